// The WebSocket's inbound path. A text frame is parsed here, by the browser's own JSON.parse, and
// only its envelope crosses into wasm: `fast(joinRef, topic, event, payload, length)` routes
// it and hands the parsed payload to the channel's listeners. Whatever the core must read itself
// (replies, closes, errors, presence, notification events, binary frames, anything malformed)
// goes to `slow(data)` whole, before any parsing here when the envelope already shows it.

// An envelope whose topic or event starts like a control event: `[…,"phx_…`, `"presence_…`,
// `"notification:…`, looked for only before the payload's opening brace.
const CONTROL = /^\[[^{]{0,512}?"(?:phx_|presence_|notification:)/;

const isRef = (v) => v === null || typeof v === 'string';
// A topic or event with a lone surrogate is malformed; the core reports it.
const wellFormed = String.prototype.isWellFormed
  ? (s) => s.isWellFormed()
  : (s) => !/[\uD800-\uDFFF]/.test(s);

export function inbound(fast, slow) {
  return (data) => {
    if (typeof data === 'string' && !CONTROL.test(data)) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch (_) {
        frame = null;
      }
      if (Array.isArray(frame) && frame.length === 5) {
        const payload = frame[4];
        if (isRef(frame[0]) && isRef(frame[1]) && typeof frame[2] === 'string' &&
            typeof frame[3] === 'string' && payload !== null && typeof payload === 'object' &&
            !Array.isArray(payload) && wellFormed(frame[2]) && wellFormed(frame[3]) &&
            fast(frame[0], frame[2], frame[3], payload, data.length)) {
          return;
        }
      }
    }
    slow(data);
  };
}

export function listen(ws, receive) {
  ws.onmessage = (e) => receive(e.data);
}
