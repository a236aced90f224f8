//! TypeScript declarations the generator cannot infer: option objects, states, payloads, errors.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object: what every Phoenix payload is. */
export type JsonObject = { [key: string]: Json };

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
  params?: Record<string, string | number | boolean>
    | (() => Record<string, string | number | boolean> | Promise<Record<string, string | number | boolean>>);
  /**
   * Sent as the Phoenix bearer subprotocol; a function is called again on each connect, and may
   * return a promise (an async token refresh: the connect waits for it).
   */
  authToken?: string | (() => string | undefined | Promise<string | undefined>);
  /** Socket reconnects. Default: 250 ms → 30 s, full jitter, reset after 5 s up. */
  reconnect?: BackoffOptions;
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
  readonly status: "connecting" | "syncing" | "live" | "offline";
}

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

/** A measurement from `socket.onTelemetry`. */
export interface TelemetryEvent {
  event: "connect" | "disconnect" | "reconnect_scheduled" | "heartbeat_timeout" | "join" | "push_reply" | "send_dropped";
  /** connect: time to open; disconnect: time it was up; reconnect_scheduled: the delay; join and push_reply: the round trip. */
  durationMs?: number;
  /** Failed attempts so far (connect, reconnect_scheduled). */
  attempt?: number;
  topic?: string;
  /** join / push_reply: the reply status or "timeout"; disconnect: the close code; send_dropped: the reason. */
  code?: string;
}

export type TetherErrorCode =
  | "error" | "timeout" | "dropped"
  | "invalid_option" | "invalid_payload" | "unknown_channel" | "already_joined" | "not_joined"
  | "malformed_frame" | "frame_too_large" | "unsupported_frame"
  | "heartbeat_timeout" | "connect_timeout" | "connect_failed" | "send_dropped" | "gave_up"
  | "reentrant_call" | "mark_read_failed" | "sync_failed" | "invalid_notification" | "clock_drift"
  | "stale_reply" | "invalid_params" | "not_connected" | "unsupported";

/**
 * How the payload of a Phoenix binary frame reaches `channel.on` listeners (and a binary reply's
 * response): its length and its bytes in standard base64.
 */
export interface BinaryPayload {
  byteLength: number;
  base64: string;
}

/** Every error tether reports or rejects with. */
export interface TetherError extends Error {
  code: TetherErrorCode;
  /** With code "error": the reply status and the server's response. */
  status?: string;
  response?: Json;
  /** With code "dropped": why the send never left. */
  reason?: "overflow" | "expired" | "left";
}
"#;
