// The #lobby chat: the message list (grouped by sender) and the composer.
import { $, h, avatar } from './ui.js';

const GROUP_MS = 5 * 60 * 1000; // consecutive messages by one sender within this window share a header
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

const ui = {
  messages: $('messages'), empty: $('empty'), composer: $('composer'),
  input: $('message-input'), send: $('send'), sendError: $('send-error'),
};

let current = null; // {channel, me, wanted: () => bool}
let last = null;    // {name, at} of the last message, for grouping

function nearBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function append(node, forceScroll) {
  const stick = forceScroll || nearBottom();
  ui.empty.hidden = true;
  ui.messages.append(node);
  if (stick) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function addMessage({ body, name, at }) {
  name = String(name ?? 'anonymous');
  const when = new Date(typeof at === 'number' ? at : Date.now());
  const own = name === current?.me;
  const grouped = last && last.name === name && when - last.at < GROUP_MS;
  last = { name, at: when };

  const item = h('li', `msg${own ? ' own' : ''}${grouped ? ' cont' : ''}`);
  item.dataset.testid = 'message';
  item.dataset.own = String(own);
  const meta = h('div', 'meta');
  meta.append(h('span', 'name', name));
  const time = h('time', 'time', timeFmt.format(when));
  time.dateTime = when.toISOString();
  time.title = when.toLocaleString();
  meta.append(time);
  const content = h('div', 'content');
  content.append(meta, h('div', 'bubble', String(body ?? '')));
  item.append(avatar(name), content);
  append(item, own);
}

/** A centred status line in the message list. */
export function addSystem(text, kind = 'info') {
  const item = h('li', `system ${kind}`);
  item.dataset.testid = 'system-message';
  item.append(h('span', null, text));
  last = null;
  append(item, true);
}

/** Enables the composer only while the channel is joined. */
export function renderComposer() {
  const joined = current?.channel.state === 'joined';
  const placeholder = joined ? 'Message #lobby'
    : current?.wanted() ? 'Waiting for the connection…' : 'Disconnected. Connect to chat.';
  if (ui.input.disabled === joined) {
    ui.input.disabled = !joined;
    ui.send.disabled = !joined;
    if (joined && !document.activeElement?.closest('button, .popover')) ui.input.focus();
  }
  if (ui.input.placeholder !== placeholder) ui.input.placeholder = placeholder;
}

function describeSendError(err) {
  switch (err?.code) {
    case 'error': return `the server refused it (${err.response?.reason ?? 'error'})`;
    case 'timeout': return 'the server did not answer in time';
    case 'dropped': return 'the connection dropped before it was sent';
    default: return err?.message || 'unknown error';
  }
}

async function send(body) {
  ui.sendError.hidden = true;
  ui.input.value = '';
  try {
    await current.channel.push('new_msg', { body });
  } catch (err) {
    ui.sendError.textContent = `Message not sent: ${describeSendError(err)}.`;
    ui.sendError.hidden = false;
    if (!ui.input.value) ui.input.value = body; // give the text back to retry
  }
}

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const body = ui.input.value.trim();
  if (!body || current?.channel.state !== 'joined') return;
  send(body);
});
ui.input.addEventListener('input', () => { ui.sendError.hidden = true; });

/** Shows `channel`'s messages; `me` is your name; `wanted()` whether you asked to be connected. */
export function mountChat(channel, me, wanted) {
  current = { channel, me, wanted };
  const offs = [
    channel.on('new_msg', addMessage),
    channel.onJoin(({ rejoin }) => {
      addSystem(rejoin ? 'Reconnected' : `You joined #lobby as ${me}`, rejoin ? 'ok' : 'info');
      renderComposer();
    }),
  ];
  renderComposer();
  return {
    stop() {
      offs.forEach((off) => off());
      current = null;
      last = null;
      ui.messages.replaceChildren(ui.empty);
      ui.empty.hidden = false;
      ui.input.value = '';
      ui.sendError.hidden = true;
      renderComposer();
    },
  };
}
