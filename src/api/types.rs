//! TypeScript declarations the generator cannot infer: option objects, states, payloads, errors.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object: what every Phoenix payload is. */
export type JsonObject = { [key: string]: Json };

/**
 * `T` where every field can be written as JSON (`JSON.stringify`), `never` where one cannot (a
 * function, a bigint, a symbol, a `Map`'s methods). Interfaces are welcome: no index signature
 * is needed. `undefined` fields are left out, as `JSON.stringify` leaves them out; a `Date`
 * goes as its ISO text.
 */
export type JsonSafe<T> =
  unknown extends T ? T
  : T extends string | number | boolean | null | undefined | Date ? T
  : T extends Function | bigint | symbol ? never
  : { [K in keyof T]: JsonSafe<T[K]> };

/**
 * A socket's query parameters. Strings go as they are, numbers and booleans as JavaScript
 * writes them, objects and arrays as their JSON text; `null` and `undefined` are left out.
 */
export type SocketParams = { [key: string]: Json | undefined };

/** A retry schedule: exponential with jitter between minMs and maxMs, or your own function. */
export interface BackoffOptions {
  /** First delay and lower bound, ms. */
  minMs?: number;
  /** Upper bound, ms. */
  maxMs?: number;
  /** 0 = exact doubling; 1 = full jitter (uniform between minMs and the current ceiling). */
  jitter?: number;
  /** Give up after this many consecutive failures (socket: state becomes "closed"). */
  maxAttempts?: number;
  /** The attempt counter resets only after a connection stayed up this long, ms. */
  resetAfterMs?: number;
  /** Replaces the exponential schedule: the delay in ms before attempt `attempt` (1-based). */
  schedule?: (attempt: number) => number;
}

/** What to do after the server or the network closed the socket with `code`. */
export type CloseDecision = "retry" | "soon" | "slow" | "stop";

/** The socket's reconnect schedule, and its policy per close code. */
export interface ReconnectOptions extends BackoffOptions {
  /**
   * Called with each close's code and reason: "retry" (on the schedule), "soon" (at once, with a
   * jitter of up to `minMs`), "slow" (at the schedule's slowest step: `maxMs`), "stop" (no
   * reconnect: the socket closes), or undefined for the default (1008, 4401 and 4403
   * "unauthorized": slow; 1011, 1012, 1013: soon; others: the schedule). A failed attempt that
   * never opened has code 1006.
   */
  onClose?: (code: number, reason: string) => CloseDecision | undefined;
}

export interface SocketOptions {
  /**
   * The wire dialect. "phoenix" (default): Phoenix Channels V2 at `<url>/websocket`.
   * "hub" (MemoriesDB): channels are subscribed in the URL (`?c=<topic>`), pushes publish.
   * "nova" (nova_pubsub): the URL's path is the channel, `{event, data}` frames, ping/pong.
   */
  protocol?: "phoenix" | "hub" | "nova";
  /**
   * Query parameters sent on every connect; a function is called again on each connect, and
   * may return a promise (the connect waits for it; a rejection is a failed attempt).
   */
  params?: SocketParams | (() => SocketParams | Promise<SocketParams>);
  /**
   * Sent as the Phoenix bearer subprotocol; a function is called again on each connect, and may
   * return a promise (an async token refresh: the connect waits for it).
   */
  authToken?: string | (() => string | undefined | Promise<string | undefined>);
  /** Socket reconnects. Default: 250 ms → 30 s, full jitter, reset after 5 s up. */
  reconnect?: ReconnectOptions;
  /** Channel rejoins after a join error or timeout. Default: 1 s → 10 s, half jitter. */
  rejoin?: BackoffOptions;
  /** Heartbeat interval, and how long a heartbeat reply may take. Default 30000. */
  heartbeatMs?: number;
  /** Default reply timeout of joins and pushes, and of opening the socket. Default 10000. */
  timeoutMs?: number;
  /** Pushes made while not connected or not joined wait here. Default {max: 100, ttlMs: 30000}. */
  sendBuffer?: { max?: number; ttlMs?: number };
  /** Inbound frames larger than this are rejected with an error event. Default 16 MiB. */
  maxFrameBytes?: number;
}

export type SocketStateName = "connecting" | "open" | "closed" | "waiting" | "offline";

export type SocketStateInfo =
  | { state: "connecting" | "open" | "closed" | "offline" }
  | { state: "waiting"; attempt: number; retryInMs: number };

export type ChannelStateName = "closed" | "joining" | "joined" | "leaving" | "errored";

export interface PushOptions {
  /** Reply timeout for this push, ms. */
  timeoutMs?: number;
}

export interface JoinInfo {
  /** False for the first join, true for every rejoin after an error or a reconnect. */
  rejoin: boolean;
  response: JsonObject;
}

/** One key's presence, as the server sent it: its metas (each with a unique phx_ref). */
export interface PresenceEntry {
  metas: Array<{ phx_ref: string; [field: string]: Json }>;
  [field: string]: Json;
}

export interface Presence {
  /** Every key's presence, in phoenix.js order. */
  list(): PresenceEntry[];
  /** Every key mapped through `chooser`, in phoenix.js order. */
  list<T>(chooser: (key: string, presence: PresenceEntry) => T): T[];
}

export interface PresenceOptions {
  /** A key that leaves and returns within this many ms reports neither (it stays listed). Default 0. */
  leaveGraceMs?: number;
}

export type NotificationKind = "transient" | "toast" | "activity" | "alert" | "system";

export interface Notification {
  id: string;
  kind: NotificationKind;
  title: string;
  body?: string;
  data: JsonObject;
  /** ISO time, or null while unread. */
  read_at: string | null;
  inserted_at: string;
  expires_at?: string;
}

export interface NotificationSnapshot {
  /** Newest first, at most `cap`. */
  readonly items: readonly Notification[];
  /** The server's total unread (activity + alert), adjusted by reads not yet confirmed. */
  readonly unreadCount: number;
  /** "" at 0, the number up to 99, "99+" above. */
  readonly badge: string;
  /** "refused": the server refused the store's join (see `refusedReason`); it is retried on the rejoin schedule. */
  readonly status: NotificationStatus;
  /** With status "refused": the server's `reason`. */
  readonly refusedReason?: string;
}

export type NotificationStatus = "connecting" | "syncing" | "live" | "offline" | "refused";

export interface NotificationStoreOptions {
  /** Notifications held, newest first. Default 50. */
  cap?: number;
  /** Keep reads made offline in localStorage until the server confirms them. Default true. */
  persist?: boolean;
}

/** A Svelte store and a `useSyncExternalStore` source; every method is bound. */
export interface NotificationStore {
  /** Calls `run(snapshot)` now and after every change; returns the unsubscribe. */
  subscribe(run: (snapshot: NotificationSnapshot) => void): () => void;
  /** The same object until something changes. */
  getSnapshot(): NotificationSnapshot;
  /**
   * Marks one read, or several (up to 100 ids per push), at once; rolled back (with an error
   * event) if the server refuses; sent again after a timeout.
   */
  markRead(ids: string | readonly string[]): void;
  markAllRead(): void;
  /** Pulls the server's state again. */
  refresh(): void;
  /** Every pushed notification, toasts and transient ones included. */
  onNotification(callback: (notification: Notification) => void): () => void;
}

type TelemetryFields = "durationMs" | "attempt" | "topic" | "code";
/** One kind of telemetry event: its own fields, the others absent. */
type TelemetryOf<E extends string, F> = { event: E } & F & { [K in Exclude<TelemetryFields, keyof F>]?: undefined };

/** A measurement from `socket.onTelemetry`; narrow on `event`. */
export type TelemetryEvent =
  /** The socket opened: time to open, and the failed attempts before it. */
  | TelemetryOf<"connect", { durationMs: number; attempt: number }>
  /** An attempt that never opened: its number, its close code (as text) if any, how long it took. */
  | TelemetryOf<"connect_failed", { attempt: number; code?: string; durationMs?: number }>
  /** A connection that had opened closed: how long it was up, the close code (as text). */
  | TelemetryOf<"disconnect", { durationMs?: number; code?: string }>
  /** The next connect is due in `durationMs`. */
  | TelemetryOf<"reconnect_scheduled", { durationMs: number; attempt: number }>
  /** A heartbeat went unanswered: the connection is replaced. */
  | TelemetryOf<"heartbeat_timeout", {}>
  /** A join's reply (or "timeout") and its round trip. */
  | TelemetryOf<"join", { topic: string; code: string; durationMs?: number }>
  /** A push's reply status (or "timeout") and its round trip. */
  | TelemetryOf<"push_reply", { topic?: string; code: string; durationMs?: number }>
  /** A push that never left: why. */
  | TelemetryOf<"send_dropped", { topic?: string; code: "overflow" | "expired" | "left" }>;

export type TelemetryEventName = TelemetryEvent["event"];

export type TetherErrorCode =
  | "error" | "timeout" | "dropped"
  | "invalid_option" | "invalid_payload" | "unknown_channel" | "already_joined" | "not_joined"
  | "malformed_frame" | "frame_too_large" | "unsupported_frame"
  | "heartbeat_timeout" | "connect_failed" | "connection_lost" | "send_dropped" | "gave_up"
  | "reentrant_call" | "mark_read_failed" | "sync_failed" | "invalid_notification" | "clock_drift"
  | "stale_reply" | "invalid_params" | "not_connected" | "unsupported"
  | "not_initialized" | "invalid_event" | "invalid_callback" | "invalid_url" | "closed_socket"
  | "unauthorized" | "join_refused";

/**
 * How the payload of a Phoenix binary frame reaches `channel.on` listeners (and a binary reply's
 * response): its length and its bytes in standard base64.
 */
export interface BinaryPayload {
  byteLength: number;
  base64: string;
}

/** Every error tether throws, reports or rejects with: an `Error` named "TetherError". */
export interface TetherError extends Error {
  name: "TetherError";
  code: TetherErrorCode;
  /** With code "error": the reply status. */
  status?: string;
  /** With code "error" and "join_refused": the server's response. */
  response?: Json;
  /** With code "dropped": why the send never left. */
  reason?: "overflow" | "expired" | "left";
  /** With code "join_refused": the channel's topic. */
  topic?: string;
  /**
   * With codes "connect_failed", "unauthorized" and "connection_lost": the failures in a row so
   * far (1-based), the close code and reason (when the socket closed), the delay before the next
   * attempt (absent when the client stopped). With "join_refused": when the rejoin is due.
   */
  attempt?: number;
  closeCode?: number;
  closeReason?: string;
  retryInMs?: number;
}

/** Whether `value` is an error made by tether (works before `init()` too). */
export function isTetherError(value: unknown): value is TetherError;

/** A socket's channels (the class's other members are generated). */
export interface Socket {
  /**
   * A channel for `topic`, joined with `params` when `join()` is called: any object JSON can
   * carry (an interface is fine), or a function returning one (or a promise of one), called at
   * every join and rejoin (as phoenix.js does), so a rejoin can carry what the app knows by then
   * (a fresh token, the last id it saw).
   */
  channel<P extends object = object>(
    topic: string,
    params?: (P & JsonSafe<P>) | (() => ChannelParamsObject | Promise<ChannelParamsObject>),
  ): Channel;
}

/** What a channel's params function gives: an object (not an array, not a function). */
export type ChannelParamsObject = object & { length?: never; call?: never };

/** A channel's events and pushes, typed by the app (the class's other members are generated). */
export interface Channel {
  /**
   * Calls `callback(payload)` for each `event` the server sends on this channel; returns the
   * unsubscribe function. `T` is what the app knows the payload to be (not checked at run time).
   */
  on<T = JsonObject>(event: string, callback: (payload: T) => void): () => void;
  /**
   * Pushes an event. Resolves with the reply's response (`Reply`, as the app knows it; not
   * checked at run time); rejects with code "error", "timeout" or "dropped". The payload is any
   * object JSON can carry (an interface is fine), or bytes (`ArrayBuffer`, `Uint8Array`): a
   * Phoenix binary frame.
   */
  push<Reply = JsonObject, P extends object = object>(
    event: string,
    payload: (P & JsonSafe<P>) | ArrayBuffer | Uint8Array,
    options?: PushOptions,
  ): Promise<Reply>;
}
"#;
