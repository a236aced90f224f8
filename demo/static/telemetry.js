// A small live log of the SDK's telemetry (socket.onTelemetry): what happened and how long it took.
const MAX_LINES = 30;

function describe(t) {
  const parts = [t.event];
  if (t.topic) parts.push(t.topic);
  if (t.code) parts.push(t.code);
  if (t.attempt !== undefined) parts.push(`attempt ${t.attempt}`);
  if (t.durationMs !== undefined) parts.push(`${t.durationMs} ms`);
  return parts.join(' · ');
}

/** Mounts the log on `list`; returns the unsubscribe function. */
export function mountTelemetry(socket, list) {
  list.replaceChildren();
  return socket.onTelemetry((t) => {
    const item = document.createElement('li');
    item.dataset.event = t.event;
    item.dataset.testid = 'telemetry-item';
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString([], { hour12: false });
    const text = document.createElement('span');
    text.textContent = describe(t);
    item.append(time, text);
    list.prepend(item);
    while (list.children.length > MAX_LINES) list.lastElementChild.remove();
  });
}
