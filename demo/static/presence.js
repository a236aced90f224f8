// "Online" panel: who is in the room, one row per name with its tab count, rendered on every sync.
import { $, h, avatar } from './ui.js';

const list = $('online-list');
const count = $('online-count');
const empty = $('online-empty');

/** Tracks presence on `channel` and renders it; returns {presence, stop}. */
export function mountPresence(channel, me) {
  const presence = channel.presence({ leaveGraceMs: 2000 });

  const render = () => {
    const people = presence.list((key, p) => ({
      key,
      name: String(p.metas[0]?.name ?? key),
      tabs: p.metas.length,
    }));
    // You first, then everyone else in the order they arrived.
    people.sort((a, b) => (b.key === me) - (a.key === me));
    list.replaceChildren(...people.map((p) => row(p, p.key === me)));
    count.textContent = String(people.length);
    empty.hidden = people.length > 0;
  };

  const off = presence.onSync(render);
  render();
  return {
    presence,
    stop() {
      off();
      list.replaceChildren();
      count.textContent = '0';
      empty.hidden = false;
    },
  };
}

function row({ key, name, tabs }, isMe) {
  const item = h('li', 'online-item');
  item.dataset.testid = 'online-item';
  item.dataset.name = key;
  item.dataset.tabs = String(tabs);
  if (isMe) item.classList.add('me');

  const pic = h('span', 'presence-pic');
  pic.append(avatar(name, 'avatar avatar-sm'), h('span', tabs > 0 ? 'dot' : 'dot away'));

  const who = h('span', 'who');
  const line = h('span', 'who-name');
  line.append(h('span', 'who-text', name));
  if (isMe) line.append(h('span', 'you', '(you)'));
  const detail = tabs > 0 ? (tabs === 1 ? '1 tab' : `${tabs} tabs`) : 'reconnecting…';
  who.append(line, h('span', 'who-tabs', detail));
  item.append(pic, who);
  return item;
}
