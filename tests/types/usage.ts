// A typed usage sample of the published package: every exported class, option object, event
// payload and snapshot. Checked with `tsc --noEmit` (tests/js/packaging.test.mjs compiles it
// against the packed tarball installed in a fresh app; `tsc -p tests/types` checks it against
// target/npm/tether-realtime). `@ts-expect-error` lines check that the types are precise, not
// merely permissive: each must be an error.
import init, { initSync, isTetherError, Socket, Channel, Presence } from "tether-realtime";
import type {
  BackoffOptions, ChannelStateName, CloseDecision, InitInput, InitOutput, JoinInfo, Json,
  JsonObject, Notification, NotificationKind, NotificationSnapshot, NotificationStatus,
  NotificationStore, NotificationStoreOptions, PresenceEntry, PresenceOptions, PushOptions,
  ReconnectOptions, SocketOptions, SocketParams, SocketStateInfo, SocketStateName, SyncInitInput,
  TelemetryEvent, TelemetryEventName, TetherError, TetherErrorCode,
} from "tether-realtime";

// An app's own message types: ordinary interfaces, no index signature.
interface NewMsg { body: string; tags?: string[]; sentAt?: Date }
interface ChatMsg { name: string; body: string }
interface EchoReply { body: string; seq: number }

declare function currentToken(): string;
declare function render(...args: unknown[]): void;

export async function main(): Promise<void> {
  // Before init(), every use throws a TetherError with code "not_initialized"; the guard works
  // before init() too.
  try {
    new Socket("/socket");
  } catch (e) {
    if (isTetherError(e)) {
      const code: TetherErrorCode = e.code;
      const named: "TetherError" = e.name;
      render(code === "not_initialized", named);
    }
    // @ts-expect-error a caught value is unknown until narrowed
    render(e.code);
  }
  const output: InitOutput = await init();
  const memory: WebAssembly.Memory = output.memory;
  void memory;
  // The module's internals (shortened export names) are not part of the type.
  // @ts-expect-error InitOutput shows only memory
  render(output.Xb);
  // @ts-expect-error InitOutput has no string index
  render(output["__wbindgen_malloc"]);
  const input: InitInput = new URL("/tether_bg.wasm", "https://example.com");
  await init({ module_or_path: input });
  const bytes: SyncInitInput = new Uint8Array(0);
  const syncInit: (m: { module: SyncInitInput }) => InitOutput = initSync;
  void bytes; void syncInit;

  // Options.
  const reconnect: ReconnectOptions = {
    minMs: 250, maxMs: 30_000, jitter: 1, maxAttempts: 10, resetAfterMs: 5_000,
    // A policy per close code: 4401 "unauthorized" waits for a fresh token, 4000 stops.
    onClose: (code: number, reason: string): CloseDecision | undefined =>
      code === 4401 ? "slow" : code === 4000 ? "stop" : reason === "restart" ? "soon" : undefined,
  };
  const backoff: BackoffOptions = reconnect;
  // @ts-expect-error onClose answers "retry", "soon", "slow", "stop" or undefined
  const badPolicy: ReconnectOptions = { onClose: () => "later" };
  // @ts-expect-error onClose is for the socket's reconnects, not the channels' rejoins
  const badRejoin: SocketOptions = { rejoin: { onClose: () => "stop" } };
  render(backoff, badPolicy, badRejoin);
  const rejoin: BackoffOptions = { schedule: (attempt: number): number => Math.min(1000 * attempt, 10_000) };
  const options: SocketOptions = {
    params: () => ({ token: currentToken(), v: 2, debug: false }),
    authToken: () => currentToken(),
    reconnect,
    rejoin,
    heartbeatMs: 30_000,
    timeoutMs: 10_000,
    sendBuffer: { max: 100, ttlMs: 30_000 },
    maxFrameBytes: 1 << 20,
  };
  const staticParams: SocketOptions = { params: { token: "t" }, authToken: "t" };
  // Nested objects and arrays go as their JSON text; null and undefined are left out.
  const nested: SocketParams = { token: "t", filter: { room: "lobby", ids: [1, 2] }, tags: ["a"], gone: null, skip: undefined };
  const nestedOptions: SocketOptions = { params: () => nested };
  render(nestedOptions);
  // Async: a token refreshed before each connect.
  const asyncAuth: SocketOptions = { params: async () => ({ v: 2 }), authToken: async () => currentToken() };
  render(asyncAuth);
  // @ts-expect-error a param cannot be a function (JSON cannot write it)
  const badParams: SocketOptions = { params: { token: () => "t" } };
  // @ts-expect-error not an option (a typo of heartbeatMs)
  const typo: SocketOptions = { heartbeatIntervalMs: 30_000 };
  render(typo);
  // @ts-expect-error reconnect.minMs is a number
  const badBackoff: SocketOptions = { reconnect: { minMs: "250" } };
  void staticParams; void badParams; void badBackoff;

  const socket: Socket = new Socket("wss://example.com/socket", options);

  // Socket state: narrowing on "waiting" unlocks attempt and retryInMs.
  const offState: () => void = socket.onState((s: SocketStateInfo) => {
    const name: SocketStateName = s.state;
    if (s.state === "waiting") {
      const wait: number = s.retryInMs;
      const attempt: number = s.attempt;
      render(name, wait, attempt);
    } else {
      // @ts-expect-error retryInMs exists only in the "waiting" state
      render(s.retryInMs);
    }
    // @ts-expect-error not a state
    if (s.state === "reconnecting") render();
  });
  const now: SocketStateInfo = socket.state;
  const offError = socket.onError((err: TetherError) => {
    const code: TetherErrorCode = err.code;
    const message: string = err.message;
    const status: string | undefined = err.status;
    const response: Json | undefined = err.response;
    const reason: "overflow" | "expired" | "left" | undefined = err.reason;
    const isError: Error = err;
    render(code, message, status, response, reason, isError);
    // @ts-expect-error not an error code
    if (err.code === "no_such_code") render();
    // Every code, the new ones included, is a case of the union; a wrong one is caught.
    switch (err.code) {
      case "not_initialized": case "invalid_event": case "invalid_callback": case "invalid_url":
      case "closed_socket":
        render("a mistake in the app's code", err.message);
        break;
      case "unauthorized":
        render("sign in again", err.message);
        break;
      case "join_refused": {
        const topic: string | undefined = err.topic;
        render(topic, err.response);
        break;
      }
      case "connect_failed": {
        const detail: [number | undefined, number | undefined, number | undefined] = [err.attempt, err.closeCode, err.retryInMs];
        render(detail);
        break;
      }
      // @ts-expect-error not an error code
      case "unauthorised":
        break;
      default:
        render(err.code);
    }
  });
  // @ts-expect-error a callback is a function
  socket.onError("log");
  // @ts-expect-error onState needs a callback
  socket.onState();

  // Telemetry: a union narrowed on `event`.
  const offTelemetry: () => void = socket.onTelemetry((t: TelemetryEvent) => {
    const name: TelemetryEventName = t.event;
    switch (t.event) {
      case "connect": {
        const took: number = t.durationMs;
        const attempt: number = t.attempt;
        render(took, attempt);
        // @ts-expect-error a connect has no topic
        const topic: string = t.topic;
        render(topic);
        break;
      }
      case "connect_failed": {
        const attempt: number = t.attempt;
        const closeCode: string | undefined = t.code;
        render(attempt, closeCode);
        break;
      }
      case "reconnect_scheduled": {
        const delay: number = t.durationMs;
        render(delay, t.attempt);
        break;
      }
      case "join": {
        const topic: string = t.topic;
        const status: string = t.code;
        render(topic, status, t.durationMs);
        break;
      }
      case "send_dropped": {
        const reason: "overflow" | "expired" | "left" = t.code;
        render(reason);
        break;
      }
      case "disconnect": case "heartbeat_timeout": case "push_reply":
        render(t.durationMs, t.code);
        break;
      // @ts-expect-error not a telemetry event
      case "reconnect":
        break;
    }
    render(name);
  });
  // Destructuring the fields works across the union (absent ones are undefined).
  socket.onTelemetry(({ event, durationMs, attempt, topic, code }) => render(event, durationMs, attempt, topic, code));
  socket.connect();

  // Channel.
  const room: Channel = socket.channel("room:lobby", { name: "ada", tabs: 1, tags: ["a"], extra: null });
  let lastSeen = 0;
  // Params from a function: called at every join and rejoin.
  const resumed: Channel = socket.channel("room:feed", () => ({ since: lastSeen, name: "ada" }));
  lastSeen = 1;
  render(resumed.topic);
  // Or a promise of them (an async function fetching a fresh token).
  const fresh: Channel = socket.channel("room:feed", async () => ({ token: currentToken() }));
  render(fresh.topic);
  // @ts-expect-error a params function returns an object
  socket.channel("room:feed", () => 5);
  // Channel params may be an interface too; a function in them, or an array from a params
  // function, is caught.
  interface RoomParams { name: string; since?: number }
  const roomParams: RoomParams = { name: "ada" };
  const typedRoom: Channel = socket.channel("room:typed", roomParams);
  const typedRejoin: Channel = socket.channel("room:typed", async (): Promise<RoomParams> => ({ ...roomParams, since: lastSeen }));
  render(typedRoom, typedRejoin);
  // @ts-expect-error params cannot hold a function
  socket.channel("room:typed", { name: "ada", f: () => 1 });
  // @ts-expect-error a params function returns an object, not an array
  socket.channel("room:typed", () => [1, 2]);

  const rtt: Promise<number> = socket.ping();
  render(rtt);

  // Optional arguments may be left out, as with phoenix.js.
  const bare = new Socket("/socket");
  const plain: Channel = bare.channel("room:plain");
  const plainPresence: Presence = plain.presence();
  const pong: Promise<JsonObject> = plain.push("ping", {});
  // Bytes go as a Phoenix binary frame.
  const sent: Promise<JsonObject> = plain.push("upload", new Uint8Array([1, 2, 3]));
  const sentBuffer: Promise<JsonObject> = plain.push("upload", new ArrayBuffer(8), { timeoutMs: 5_000 });
  // @ts-expect-error a payload is an object or bytes
  plain.push("upload", "text");
  render(sent, sentBuffer);
  const plainStore: NotificationStore = bare.notifications("user-1");
  render(plainPresence, pong, plainStore);
  const offChannelState: () => void = room.onState((state: ChannelStateName) => render(state));
  // @ts-expect-error the state is a ChannelStateName, not a number
  room.onState((state: number) => render(state));
  offChannelState();
  const topic: string = room.topic;
  const chState: ChannelStateName = room.state;
  const joinRef: string | undefined = room.joinRef;
  render(topic, chState, joinRef, now);
  const off: () => void = room.on("new_msg", (msg: JsonObject) => {
    const body: Json | undefined = msg["body"];
    render(body);
  });
  // The app says what an event carries: `msg.body` is a string.
  const offChat: () => void = room.on<ChatMsg>("new_msg", (msg) => {
    const body: string = msg.body;
    render(body, msg.name);
    // @ts-expect-error ChatMsg has no `text`
    render(msg.text);
  });
  offChat();
  // @ts-expect-error the callback is a function
  room.on("new_msg", "not a function");
  room.onJoin((info: JoinInfo) => {
    const rejoined: boolean = info.rejoin;
    const response: JsonObject = info.response;
    render(rejoined, response);
  });
  const joined: JsonObject = await room.join();
  const pushOptions: PushOptions = { timeoutMs: 5_000 };
  const reply: JsonObject = await room.push("new_msg", { body: "hi" }, pushOptions);
  // An interface is a payload; the reply is typed by the app.
  const msg: NewMsg = { body: "hi", tags: ["a"], sentAt: new Date() };
  const echoed: EchoReply = await room.push<EchoReply>("echo", msg);
  const seq: number = echoed.seq;
  const inferred: Promise<JsonObject> = room.push("new_msg", msg, { timeoutMs: 1_000 });
  render(seq, inferred);
  // @ts-expect-error the reply's type is what the app said
  const wrongReply: string = await room.push<EchoReply>("echo", msg);
  // @ts-expect-error an event is a string
  void room.push(42, msg);
  // @ts-expect-error a payload is an object or bytes, not a number
  void room.push("new_msg", 42);
  // @ts-expect-error a payload is required
  void room.push("new_msg");
  // @ts-expect-error a Map is not JSON (JSON.stringify writes {})
  void room.push("new_msg", new Map([["a", 1]]));
  // @ts-expect-error a bigint is not JSON
  void room.push("new_msg", { n: 1n });
  render(wrongReply);
  // @ts-expect-error payloads are JSON objects
  void room.push("new_msg", "not an object", pushOptions);
  // @ts-expect-error a payload cannot hold a function
  void room.push("new_msg", { f: () => 1 }, pushOptions);
  try {
    await room.push("slow", {}, { timeoutMs: 10 });
  } catch (e) {
    const err = e as TetherError;
    if (err.code === "timeout" || err.code === "error" || err.code === "dropped") render(err.code);
  }
  render(joined, reply);

  // Presence.
  const presenceOptions: PresenceOptions = { leaveGraceMs: 3_000 };
  const presence: Presence = room.presence(presenceOptions);
  presence.onJoin((key: string, current: PresenceEntry | undefined, joinedNow: PresenceEntry) => {
    const tabs: number = joinedNow.metas.length;
    const ref: string | undefined = joinedNow.metas[0]?.phx_ref;
    render(key, current?.metas.length ?? 0, tabs, ref);
  });
  presence.onLeave((key: string, remaining: PresenceEntry, left: PresenceEntry) => {
    render(key, remaining.metas.length, left.metas.length);
  });
  const offSync = presence.onSync(() => {
    const rows: unknown[] = presence.list((key: string, p: PresenceEntry) => ({ key, tabs: p.metas.length }));
    render(rows);
  });
  const ada: PresenceEntry | undefined = presence.get("ada");
  render(ada?.metas);

  // Notifications.
  const storeOptions: NotificationStoreOptions = { cap: 50, persist: true };
  const store: NotificationStore = socket.notifications("42", storeOptions);
  const unsubscribe: () => void = store.subscribe((snap: NotificationSnapshot) => {
    const items: readonly Notification[] = snap.items;
    const unread: number = snap.unreadCount;
    const badge: string = snap.badge;
    const status: NotificationStatus = snap.status;
    if (snap.status === "refused") {
      const reason: string | undefined = snap.refusedReason;
      render(reason);
    }
    // @ts-expect-error "refused" is a status now: the old union is too narrow
    const oldStatus: "connecting" | "syncing" | "live" | "offline" = snap.status;
    render(items, unread, badge, status, oldStatus);
    // @ts-expect-error snapshots are read-only
    snap.unreadCount = 0;
  });
  const snapshot: NotificationSnapshot = store.getSnapshot();
  const first: Notification | undefined = snapshot.items[0];
  if (first) {
    const kind: NotificationKind = first.kind;
    const fields: [string, string, string | undefined, JsonObject, string | null, string, string | undefined] =
      [first.id, first.title, first.body, first.data, first.read_at, first.inserted_at, first.expires_at];
    render(kind, fields);
    store.markRead(first.id);
    store.markRead(snapshot.items.map((n) => n.id));
    // @ts-expect-error ids are strings
    store.markRead([1, 2]);
  }
  store.markAllRead();
  store.refresh();
  const offNotification = store.onNotification((n: Notification) => { if (n.kind === "toast") render(n.title); });
  // The store contracts: Svelte (subscribe returns the unsubscribe) and React's
  // useSyncExternalStore(subscribe: (onChange: () => void) => () => void, getSnapshot: () => T).
  const svelteStore: { subscribe(run: (value: NotificationSnapshot) => void): () => void } = store;
  const useSyncExternalStoreArgs: [(onChange: () => void) => () => void, () => NotificationSnapshot] =
    [store.subscribe, store.getSnapshot];
  render(svelteStore, useSyncExternalStoreArgs);
  // The presence view is the same kind of store, of its list.
  const sveltePresence: { subscribe(run: (value: readonly PresenceEntry[]) => void): () => void } = presence;
  const presenceArgs: [(onChange: () => void) => () => void, () => readonly PresenceEntry[]] =
    [presence.subscribe, presence.getSnapshot];
  render(sveltePresence, presenceArgs);

  // Unsubscribes and teardown.
  for (const f of [off, offState, offError, offSync, unsubscribe, offNotification, offTelemetry]) f();
  const left: JsonObject = await room.leave();
  render(left);
  socket.disconnect();
  socket.free();
}
