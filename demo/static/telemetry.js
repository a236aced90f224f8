// A small live log of the SDK's telemetry (socket.onTelemetry): what happened and how long it took.
// Each event is two short lines — what and how long; on which topic, with which code — so the
// narrow side panel never wraps or cuts one; the whole text is the item's tooltip.
const MAX_LINES = 30;

// How each event reads in the log (an event not listed shows its own name).
const LABEL = {
  // An attempt whose socket never opened (refused, unreachable, closed during the handshake):
  // a failed connect, not a disconnect (`disconnect` is only for a connection that had opened).
  connect_failed: 'connect failed',
};

// `user:<id>:notifications` is long and always the signed-in user's: shown as "notifications".
const topicName = (topic) => (/^user:.*:notifications$/.test(topic) ? 'notifications' : topic);

function describe(t) {
  const head = [LABEL[t.event] ?? t.event];
  if (t.durationMs !== undefined) head.push(`${t.durationMs} ms`);
  const detail = [];
  if (t.topic) detail.push(topicName(t.topic));
  if (t.attempt) detail.push(`attempt ${t.attempt}`);
  if (t.code) detail.push(t.event === 'connect_failed' || t.event === 'disconnect' ? `close ${t.code}` : t.code);
  return { head: head.join(' · '), detail: detail.join(' · ') };
}

/** Mounts the log on `list`; returns the unsubscribe function. */
export function mountTelemetry(socket, list) {
  list.replaceChildren();
  return socket.onTelemetry((t) => {
    const { head, detail } = describe(t);
    const item = document.createElement('li');
    item.dataset.event = t.event;
    item.dataset.testid = 'telemetry-item';
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    const what = document.createElement('span');
    what.className = 'what';
    what.textContent = head;
    const more = document.createElement('span');
    more.className = 'detail';
    more.textContent = detail;
    item.title = detail ? `${head} · ${detail}` : head;
    item.append(time, what, more);
    list.prepend(item);
    while (list.children.length > MAX_LINES) list.lastElementChild.remove();
  });
}
