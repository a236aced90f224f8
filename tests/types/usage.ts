// A typed usage sample of the published package: every exported class, option object, event
// payload and snapshot. Checked with `tsc --noEmit` (tests/js/packaging.test.mjs compiles it
// against the packed tarball installed in a fresh app; `tsc -p tests/types` checks it against
// target/npm/tether). `@ts-expect-error` lines check that the types are precise, not merely
// permissive: each must be an error.
import init, { initSync, Socket, Channel, Presence } from "tether";
import type {
  BackoffOptions, ChannelStateName, InitInput, InitOutput, JoinInfo, Json, JsonObject,
  Notification, NotificationKind, NotificationSnapshot, NotificationStore,
  NotificationStoreOptions, PresenceEntry, PresenceOptions, PushOptions, SocketOptions,
  SocketStateInfo, SocketStateName, SyncInitInput, TetherError, TetherErrorCode,
} from "tether";

declare function currentToken(): string;
declare function render(...args: unknown[]): void;

export async function main(): Promise<void> {
  const output: InitOutput = await init();
  const memory: WebAssembly.Memory = output.memory;
  void memory;
  const input: InitInput = new URL("/tether_bg.wasm", "https://example.com");
  await init({ module_or_path: input });
  const bytes: SyncInitInput = new Uint8Array(0);
  const syncInit: (m: { module: SyncInitInput }) => InitOutput = initSync;
  void bytes; void syncInit;

  // Options.
  const reconnect: BackoffOptions = { minMs: 250, maxMs: 30_000, jitter: 1, maxAttempts: 10, resetAfterMs: 5_000 };
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
  // Async: a token refreshed before each connect.
  const asyncAuth: SocketOptions = { params: async () => ({ v: 2 }), authToken: async () => currentToken() };
  render(asyncAuth);
  // @ts-expect-error params values are strings, numbers or booleans
  const badParams: SocketOptions = { params: { nested: { a: 1 } } };
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
  });
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
  room.onJoin((info: JoinInfo) => {
    const rejoined: boolean = info.rejoin;
    const response: JsonObject = info.response;
    render(rejoined, response);
  });
  const joined: JsonObject = await room.join();
  const pushOptions: PushOptions = { timeoutMs: 5_000 };
  const reply: JsonObject = await room.push("new_msg", { body: "hi" }, pushOptions);
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
    const status: "connecting" | "syncing" | "live" | "offline" = snap.status;
    render(items, unread, badge, status);
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
  for (const f of [off, offState, offError, offSync, unsubscribe, offNotification]) f();
  const left: JsonObject = await room.leave();
  render(left);
  socket.disconnect();
  socket.free();
}
