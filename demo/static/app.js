// tether demo: a small product on the tether SDK (Rust → wasm Phoenix client): sign-in, a lobby
// chat, who is online, a notification bell and toasts. All user-supplied text goes into the DOM
// through textContent, never innerHTML.
import init, { Socket } from './pkg/tether.js';
import { $, closePopover, paintAvatar, popover } from './ui.js';
import { addSystem, mountChat, renderComposer } from './chat.js';
import { mountPresence } from './presence.js';
import { mountNotifications } from './notifications.js';
import { clearToasts, showToast } from './toasts.js';
import { mountTelemetry } from './telemetry.js';

const TOPIC = 'room:lobby';
const SESSION_KEY = 'tether-demo:session';
const SESSION_MAX_AGE_MS = 6 * 24 * 3600 * 1000; // the server's tokens live 7 days

const ui = {
  app: $('app'), pill: $('pill'), pillText: $('pill-text'),
  accountWrap: $('account-wrap'), userChip: $('user-chip'), userAvatar: $('user-avatar'),
  userName: $('user-name'), accountName: $('account-name'), accountMenu: $('account-menu'),
  toggle: $('toggle'), signOut: $('sign-out'),
  signin: $('signin'), nameForm: $('name-form'), nameInput: $('name-input'),
  nameSubmit: $('name-submit'), bootError: $('boot-error'), workspace: $('workspace'),
  sendNotification: $('send-notification'), sendMenu: $('send-menu'), notifyError: $('notify-error'),
};

const ready = init(); // the wasm module loading
let session = null;   // {user_id, name, token, at}
let live = null;      // {socket, channel, parts: [{stop}], ...} while signed in
let wanted = false;   // whether the user wants to be connected
let conn = { state: 'closed' };
let retryAt = 0;      // performance.now() deadline of the next reconnect attempt

// ---------------------------------------------------------------- views

function showView(view) {
  ui.app.dataset.view = view;
  ui.signin.hidden = view !== 'signin';
  ui.workspace.hidden = view !== 'chat';
  ui.accountWrap.hidden = view !== 'chat';
  if (view === 'signin') {
    ui.nameInput.focus();
  }
}

// ---------------------------------------------------------------- connection pill

const PILL = {
  connecting: () => 'Connecting…',
  open: () => 'Connected',
  offline: () => 'Offline',
  closed: () => 'Disconnected',
  waiting: (s) => {
    const secs = Math.max(0, Math.ceil((retryAt - performance.now()) / 1000));
    return secs > 0 ? `Reconnecting in ${secs} s` : 'Reconnecting…';
  },
};

function render() {
  const text = (PILL[conn.state] ?? (() => conn.state))(conn);
  ui.pill.dataset.state = conn.state;
  ui.app.dataset.conn = conn.state;
  ui.pill.title = conn.state === 'waiting' ? `Attempt ${conn.attempt}`
    : conn.state === 'open' && roundTripMs !== null ? `Round trip ${roundTripMs} ms` : '';
  if (ui.pillText.textContent !== text) ui.pillText.textContent = text;
  ui.toggle.textContent = wanted ? 'Disconnect' : 'Connect';
  renderComposer();
}

let wasOpen = false; // open since the last "connection lost" line in the chat
let roundTripMs = null; // the last socket.ping() while open (shown as the pill's tooltip)

/** Measures the round trip now (socket.ping) and shows it; quiet when it fails. */
function measureRoundTrip() {
  live?.socket.ping().then((ms) => { roundTripMs = ms; render(); }, () => {});
}

function onSocketState(s) {
  conn = s;
  if (s.state === 'waiting') retryAt = performance.now() + s.retryInMs;
  if (s.state === 'open') {
    wasOpen = true;
    measureRoundTrip();
  } else {
    roundTripMs = null;
  }
  if (wasOpen && wanted && (s.state === 'waiting' || s.state === 'offline')) {
    wasOpen = false;
    addSystem(s.state === 'offline' ? 'You are offline. Waiting for the network…' : 'Connection lost. Reconnecting…', 'warn');
  }
  render();
  queueMicrotask(render); // the channel's own state follows the socket's
}

// ---------------------------------------------------------------- session

function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
    if (s && s.user_id && s.token && s.name && Date.now() - (s.at ?? 0) < SESSION_MAX_AGE_MS) return s;
  } catch { /* ignore a damaged entry */ }
  localStorage.removeItem(SESSION_KEY);
  return null;
}

async function createSession(name) {
  const res = await fetch('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return { user_id: body.user_id, name: body.name, token: body.token, at: Date.now() };
}

async function start(s) {
  session = s;
  ui.userName.textContent = s.name;
  ui.accountName.textContent = s.name;
  paintAvatar(ui.userAvatar, s.name);
  showView('chat');
  await ready;

  const socket = new Socket('/socket', {
    authToken: () => session?.token,
    reconnect: { minMs: 250, maxMs: 8000, jitter: 1 },
  });
  const channel = socket.channel(TOPIC, { name: s.name });
  const chat = mountChat(channel, s.name, () => wanted);
  const online = mountPresence(channel, s.name);
  const bell = mountNotifications(socket, s.user_id);
  const offs = [
    socket.onState(onSocketState),
    channel.onState(() => render()), // a server-side channel error, a rejoin
    mountTelemetry(socket, document.getElementById('telemetry-log')),
    socket.onError((err) => {
      console.warn(`[tether] ${err.code}: ${err.message}`);
      // The server no longer accepts this session's token (e.g. its data directory was reset):
      // retrying cannot help, so back to the sign-in form, saying why.
      // (Deferred: the socket is not torn down from inside its own callback.)
      if (err.code === 'unauthorized') {
        setTimeout(() => {
          if (live?.socket !== socket) return;
          signOut();
          // The server's close reason when the error carries it; else the message, without
          // its note about the next retry (signing out ends the retries).
          const why = typeof err.reason === 'string' && err.reason
            ? err.reason : String(err.message).replace(/;?\s*retrying\b.*$/i, '');
          ui.bootError.textContent = `Your session has ended: ${why}. Sign in again.`;
          ui.bootError.hidden = false;
        });
      }
    }),
  ];
  live = { socket, channel, parts: [chat, online, bell], offs };
  window.tetherDemo = { socket, channel, presence: online.presence, notifications: bell.store };
  connect();
  channel.join().catch((err) => {
    if (live?.channel !== channel) return; // signed out before the join settled
    const reason = err?.response?.reason ?? err?.code ?? 'unknown error';
    addSystem(`Could not join #lobby (${reason}). Retrying…`, 'warn');
  });
}

function signOut() {
  closePopover();
  if (live) {
    wanted = false;
    live.socket.disconnect();
    live.offs.forEach((off) => off());
    live.parts.forEach((p) => p.stop());
    live = null;
  }
  session = null;
  window.tetherDemo = undefined;
  localStorage.removeItem(SESSION_KEY);
  clearToasts();
  conn = { state: 'closed' };
  render();
  ui.nameInput.value = '';
  showView('signin');
}

function connect() {
  wanted = true;
  live?.socket.connect();
  render();
}

function disconnect() {
  wanted = false;
  wasOpen = false;
  live?.socket.disconnect();
  addSystem('You disconnected.', 'muted');
  render();
}

// ---------------------------------------------------------------- "send me a notification"

const SAMPLES = {
  toast: [
    { title: 'Settings saved', body: 'Your preferences are live on every device.' },
    { title: 'Link copied', body: 'Share it with anyone in the lobby.' },
  ],
  activity: [
    { title: 'New comment on your post', body: '“Love how snappy the reconnect is!”' },
    { title: 'Grace reacted to your message', body: 'with 🎉 in #lobby' },
    { title: 'You were added to #design', body: 'Say hi to the team.' },
  ],
  alert: [
    { title: 'Unusual sign-in', body: 'A new browser signed in to your account just now.' },
    { title: 'Storage almost full', body: '92% of your quota is used.' },
  ],
};
const picks = { toast: 0, activity: 0, alert: 0 };

async function sendToSelf(kind) {
  ui.notifyError.hidden = true;
  const sample = SAMPLES[kind][picks[kind]++ % SAMPLES[kind].length];
  try {
    const res = await fetch('/api/notify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: session.user_id, kind, ...sample }),
    });
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error ?? `HTTP ${res.status}`);
  } catch (err) {
    ui.notifyError.textContent = `Could not send it: ${err.message}`;
    ui.notifyError.hidden = false;
  }
}

popover(ui.sendNotification, ui.sendMenu);
ui.sendMenu.addEventListener('click', (e) => {
  const item = e.target.closest('[data-kind]');
  if (!item || !session) return;
  closePopover();
  sendToSelf(item.dataset.kind);
});

// ---------------------------------------------------------------- sign-in + account menu

ui.nameForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = ui.nameInput.value.trim().slice(0, 64);
  if (!name) return ui.nameInput.focus();
  ui.bootError.hidden = true;
  ui.nameSubmit.disabled = true;
  try {
    const s = await createSession(name);
    localStorage.setItem(SESSION_KEY, JSON.stringify(s));
    await start(s);
  } catch (err) {
    ui.bootError.textContent = `Could not sign in: ${err.message}`;
    ui.bootError.hidden = false;
  } finally {
    ui.nameSubmit.disabled = false;
  }
});

popover(ui.userChip, ui.accountMenu);
ui.toggle.addEventListener('click', () => {
  closePopover();
  if (wanted) disconnect();
  else connect();
});
ui.signOut.addEventListener('click', signOut);

// The SDK keeps an open socket when the browser reports `offline` (its heartbeat finds out later
// whether it died). With no network it is dead, so drop it now: connect() while offline makes no
// attempt and waits for `online`, when the SDK reconnects at once. Deferred so that the SDK's own
// `offline` listener has run first.
window.addEventListener('offline', () => setTimeout(() => {
  if (!live || !wanted || navigator.onLine || conn.state === 'offline') return;
  live.socket.disconnect();
  live.socket.connect();
}));

// Live countdown while waiting to reconnect.
setInterval(render, 250);
// The round trip, refreshed while connected.
setInterval(() => { if (conn.state === 'open') measureRoundTrip(); }, 10_000);

// ---------------------------------------------------------------- boot

const saved = loadSession();
if (saved) {
  start(saved).catch((err) => {
    showView('signin');
    ui.bootError.textContent = `Could not load the tether SDK: ${err.message}`;
    ui.bootError.hidden = false;
  });
} else {
  showView('signin');
}
