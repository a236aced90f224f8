// The notification bell: badge, dropdown list, mark read / mark all read, and toasts for new ones.
import { $, h, popover, relativeTime } from './ui.js';
import { showToast } from './toasts.js';

const ui = {
  wrap: $('bell-wrap'), bell: $('bell'), badge: $('bell-badge'), panel: $('bell-panel'),
  list: $('notif-list'), empty: $('notif-empty'), markAll: $('mark-all-read'), status: $('bell-status'),
};

const STATUS = {
  connecting: () => 'Connecting…',
  syncing: () => 'Syncing…',
  offline: () => 'Offline: showing what was loaded',
  // The server refused the store's join (e.g. a token it no longer accepts); retried by the SDK.
  refused: (s) => `Refused by the server (${s.refusedReason ?? 'no reason given'}). Retrying…`,
};
const TOASTED = new Set(['toast', 'activity', 'alert']);

let store = null;

popover(ui.bell, ui.panel);
ui.markAll.addEventListener('click', () => store?.markAllRead());
ui.list.addEventListener('click', (e) => {
  const item = e.target.closest('[data-testid="notification-item"]');
  if (item && item.dataset.read === 'false') store?.markRead(item.dataset.id);
});

function render(snapshot) {
  const { items, badge, unreadCount, status } = snapshot;
  ui.badge.textContent = badge;
  ui.badge.hidden = badge === '';
  ui.bell.setAttribute('aria-label', unreadCount ? `Notifications, ${unreadCount} unread` : 'Notifications');
  ui.markAll.disabled = unreadCount === 0;
  ui.status.hidden = status === 'live';
  ui.status.textContent = STATUS[status]?.(snapshot) ?? '';
  ui.empty.hidden = items.length > 0;
  const now = Date.now();
  ui.list.replaceChildren(...items.map((n) => row(n, now)));
}

function row(n, now) {
  const unread = n.read_at === null;
  const item = h('li', `notif${unread ? ' unread' : ''}`);
  item.dataset.testid = 'notification-item';
  item.dataset.id = n.id;
  item.dataset.read = String(!unread);
  item.dataset.kind = n.kind;
  if (unread) {
    item.tabIndex = 0;
    item.setAttribute('role', 'button');
    item.title = 'Mark as read';
  }

  const text = h('div', 'notif-text');
  text.append(h('strong', 'notif-title', n.title));
  if (n.body) text.append(h('span', 'notif-body', n.body));
  const time = h('time', 'notif-time', relativeTime(n.inserted_at, now));
  time.dateTime = n.inserted_at;
  time.dataset.at = n.inserted_at;
  text.append(time);

  item.append(h('span', 'kind-dot'), text);
  item.querySelector('.kind-dot').dataset.kind = n.kind;
  if (unread) {
    const dot = h('span', 'unread-dot');
    dot.setAttribute('aria-label', 'unread');
    item.append(dot);
  }
  return item;
}

ui.list.addEventListener('keydown', (e) => {
  if ((e.key === 'Enter' || e.key === ' ') && e.target.matches('[data-testid="notification-item"]')) {
    e.preventDefault();
    e.target.click();
  }
});

// Keep "3 min. ago" fresh while the page is open.
setInterval(() => {
  const now = Date.now();
  for (const t of ui.list.querySelectorAll('time[data-at]')) {
    const text = relativeTime(t.dataset.at, now);
    if (t.textContent !== text) t.textContent = text;
  }
}, 20_000);

/** Shows `socket`'s notification store for `userId` in the bell; returns {store, stop}. */
export function mountNotifications(socket, userId) {
  store = socket.notifications(userId, { cap: 50 });
  const offs = [
    store.subscribe(render),
    store.onNotification((n) => {
      if (TOASTED.has(n.kind)) showToast(n);
    }),
  ];
  ui.wrap.hidden = false;
  return {
    store,
    stop() {
      offs.forEach((off) => off());
      store = null;
      ui.wrap.hidden = true;
      render({ items: [], badge: '', unreadCount: 0, status: 'live' });
    },
  };
}
