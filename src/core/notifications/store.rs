//! The notification store: newest first, capped, deduplicated by id; an unread count that is the
//! server's total adjusted by optimistic reads; reads queued while offline, sent again after a
//! timeout and rolled back when the server refuses them; a `sync` on every join, asked again
//! when it fails and after expiries. Pure state: [`super::Client`] feeds it frames and replies
//! and sends what it asks for.

use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::core::json;
use crate::core::json::value::Value;

use crate::core::notifications::notification::{
    badge, id_order, iso8601, newer, set_read, Notification,
};
pub use crate::core::notifications::reads::{ReadOp, StoredRead};

/// Where the store stands with the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// Not joined yet.
    Connecting,
    /// Joined; the `sync` reply is awaited.
    Syncing,
    /// Synced and receiving pushes.
    Live,
    /// Was joined, lost the connection; reads are queued.
    Offline,
    /// The server refused the join (see [`NotificationStore::refused_reason`]); it is asked
    /// again on the rejoin schedule.
    Refused,
}

impl StoreStatus {
    pub fn name(self) -> &'static str {
        match self {
            StoreStatus::Connecting => "connecting",
            StoreStatus::Syncing => "syncing",
            StoreStatus::Live => "live",
            StoreStatus::Offline => "offline",
            StoreStatus::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone)]
struct Held {
    n: Notification,
    /// Arrival order in this store (a `markAllRead` covers what arrived before it).
    seq: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    op: ReadOp,
    /// For `All`: the newest notification the user had seen (sent as `until`).
    until: Option<String>,
    /// For `All`: covers items with `seq <= watermark`.
    watermark: u64,
    /// Restored from storage: its watermark is set by the first sync.
    restored: bool,
    /// Sent and awaiting its reply.
    in_flight: bool,
    /// Unread counted notifications it covers that the cap evicted: the server still counts
    /// them, the store no longer holds them.
    evicted: Vec<String>,
}

/// What the store asks of its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreRequest {
    /// Push `event` with `payload`; report the outcome with `reply(tag, ...)`.
    Push {
        tag: RequestTag,
        event: &'static str,
        payload: Value,
    },
}

/// What a push of the store was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestTag {
    /// A `sync`, sent when the store's arrival counter stood at this value: what arrived later
    /// (live, while the `sync` was on its way) is newer than the reply and never removed by it.
    Sync(u64),
    Read(u64),
}

/// What happened, for the owner to report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreEffects {
    pub requests: Vec<StoreRequest>,
    /// The snapshot changed.
    pub changed: bool,
    /// Notifications to hand to `onNotification` listeners (every kind, toasts included).
    pub delivered: Vec<Value>,
    /// The set of unconfirmed reads changed: persist `pending_ops()`.
    pub persist: bool,
    /// A `sync` failed while joined: ask again after the rejoin backoff's delay for this many
    /// failures in a row (a join sends its own `sync`, which supersedes it).
    pub retry_sync: Option<u32>,
    /// Held notifications expired: ask for the server's count and newest ones shortly
    /// ([`RESYNC_AFTER_EXPIRY_MS`]), unless a `sync` is already due sooner.
    pub resync_soon: bool,
    pub errors: Vec<(&'static str, String)>,
}

#[derive(Debug)]
pub struct NotificationStore {
    cap: usize,
    items: Vec<Held>,
    server_unread: u64,
    pending: Vec<Pending>,
    next_seq: u64,
    next_op: u64,
    status: StoreStatus,
    /// The server's reason for the last refused join, until a join succeeds.
    refused_reason: Option<String>,
    joined: bool,
    /// `sync`s failed in a row since the last one answered.
    sync_failures: u32,
    version: u64,
    /// Ids recently evicted by the cap (at most [`EVICTED_MEMORY`]), so a re-delivery of one is
    /// not counted again.
    evicted: VecDeque<String>,
}

/// How long after held notifications expire the store asks for a `sync` (see
/// [`StoreEffects::resync_soon`]).
pub const RESYNC_AFTER_EXPIRY_MS: u64 = 1_000;

/// The most ids one `mark_read` push carries (servers bound a request's ids; the demo server
/// takes up to 500).
pub const MARK_READ_BATCH: usize = 100;

/// How many evicted ids the store remembers.
const EVICTED_MEMORY: usize = 1000;

impl NotificationStore {
    /// A store holding at most `cap` notifications, with reads restored from storage.
    pub fn new<R: Into<StoredRead>>(cap: usize, restored: Vec<R>) -> NotificationStore {
        let mut store = NotificationStore {
            cap: cap.max(1),
            items: Vec::new(),
            server_unread: 0,
            pending: Vec::new(),
            next_seq: 0,
            next_op: 0,
            status: StoreStatus::Connecting,
            refused_reason: None,
            joined: false,
            sync_failures: 0,
            version: 0,
            evicted: VecDeque::new(),
        };
        for read in restored {
            let StoredRead { op, until } = read.into();
            store.next_op += 1;
            store.pending.push(Pending {
                id: store.next_op,
                op,
                until,
                watermark: u64::MAX,
                restored: true,
                in_flight: false,
                evicted: Vec::new(),
            });
        }
        store
    }

    // ---- reading -------------------------------------------------------------------------

    pub fn status(&self) -> StoreStatus {
        self.status
    }

    /// Why the server refused the join, while the status is [`StoreStatus::Refused`].
    pub fn refused_reason(&self) -> Option<&str> {
        self.refused_reason.as_deref()
    }

    /// The tag of a `sync` sent now (see [`RequestTag::Sync`]).
    pub fn sync_tag(&self) -> RequestTag {
        RequestTag::Sync(self.next_seq)
    }

    /// Bumped on every change of the snapshot.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn covered(&self, h: &Held) -> bool {
        self.pending.iter().any(|p| match &p.op {
            ReadOp::Ids(ids) => ids.contains(&h.n.id),
            ReadOp::All => h.seq <= p.watermark,
        })
    }

    /// Shown as read: read on the server, or by a pending read.
    pub fn is_read(&self, id: &str) -> bool {
        self.items
            .iter()
            .find(|h| h.n.id == id)
            .is_some_and(|h| h.n.read || self.covered(h))
    }

    /// The server's total, adjusted by reads not yet confirmed; never below 0.
    pub fn unread_count(&self) -> u64 {
        let counted_unread = |h: &&Held| h.n.kind.counted() && !h.n.read;
        let latest_all = self
            .pending
            .iter()
            .filter(|p| p.op == ReadOp::All)
            .map(|p| p.watermark)
            .max();
        match latest_all {
            // Everything known when "mark all read" was pressed is read; what came later counts.
            Some(w) => self
                .items
                .iter()
                .filter(counted_unread)
                .filter(|h| h.seq > w && !self.covered(h))
                .count() as u64,
            None => {
                let optimistic = self
                    .items
                    .iter()
                    .filter(counted_unread)
                    .filter(|h| self.covered(h))
                    .count() as u64
                    + self
                        .pending
                        .iter()
                        .map(|p| p.evicted.len() as u64)
                        .sum::<u64>();
                self.server_unread.saturating_sub(optimistic)
            }
        }
    }

    pub fn badge(&self) -> String {
        badge(self.unread_count())
    }

    /// The held notifications, newest first, without expired ones; each with `read_at` set (to
    /// `now`) when a pending read covers it.
    pub fn items(&self, now: u64) -> Vec<Value> {
        let read_at_now = iso8601(now);
        self.items
            .iter()
            .filter(|h| !h.n.expired(now))
            .map(|h| {
                let mut v = h.n.raw.clone();
                if !h.n.read && self.covered(h) {
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("read_at".into(), Value::String(read_at_now.clone()));
                    }
                }
                v
            })
            .collect()
    }

    /// Unconfirmed reads as kept in storage.
    pub fn stored_reads(&self) -> Vec<StoredRead> {
        self.pending
            .iter()
            .map(|p| StoredRead {
                op: p.op.clone(),
                until: p.until.clone(),
            })
            .collect()
    }

    /// Unconfirmed reads.
    pub fn pending_ops(&self) -> Vec<ReadOp> {
        self.pending.iter().map(|p| p.op.clone()).collect()
    }

    /// What a `sync` asks for: as many of the newest as the store holds (`limit`), so their read
    /// state is refreshed too, not only the 50 a server sends by default.
    pub fn sync_payload(&self) -> Value {
        json::object([("limit", Value::from(self.cap as u64))])
    }

    /// The earliest expiry among held notifications.
    pub fn next_expiry(&self) -> Option<u64> {
        self.items.iter().filter_map(|h| h.n.expires_ms).min()
    }

    // ---- inputs --------------------------------------------------------------------------

    fn touch(&mut self, fx: &mut StoreEffects) {
        self.version += 1;
        fx.changed = true;
    }

    /// The channel joined (first time or again): sync, then send queued reads.
    pub fn joined(&mut self) -> StoreEffects {
        self.joined_after(false)
    }

    /// [`NotificationStore::joined`], when the `sync` for this join was already sent (right
    /// behind the `phx_join`, so its reply follows the join's without another round trip).
    pub fn joined_after(&mut self, sync_sent: bool) -> StoreEffects {
        let mut fx = StoreEffects::default();
        self.joined = true;
        self.status = StoreStatus::Syncing;
        self.refused_reason = None;
        self.touch(&mut fx);
        if !sync_sent {
            fx.requests.push(StoreRequest::Push {
                tag: self.sync_tag(),
                event: "sync",
                payload: self.sync_payload(),
            });
        }
        self.flush(&mut fx);
        fx
    }

    /// The channel is no longer joined: reads in flight go back to the queue (their replies
    /// would be for a connection that is gone).
    pub fn disconnected(&mut self) -> StoreEffects {
        let mut fx = StoreEffects::default();
        self.joined = false;
        for p in &mut self.pending {
            p.in_flight = false;
        }
        // Never joined (or refused): nothing was live to go offline.
        if !matches!(self.status, StoreStatus::Connecting | StoreStatus::Refused) {
            self.status = StoreStatus::Offline;
            self.touch(&mut fx);
        }
        fx
    }

    /// The server refused the channel's join with `reason`; the owner rejoins on its schedule.
    pub fn join_refused(&mut self, reason: &str) -> StoreEffects {
        let mut fx = StoreEffects::default();
        self.joined = false;
        for p in &mut self.pending {
            p.in_flight = false;
        }
        if self.status != StoreStatus::Refused || self.refused_reason.as_deref() != Some(reason) {
            self.status = StoreStatus::Refused;
            self.refused_reason = Some(reason.into());
            self.touch(&mut fx);
        }
        fx
    }

    fn flush(&mut self, fx: &mut StoreEffects) {
        if !self.joined {
            return;
        }
        for p in &mut self.pending {
            if !p.in_flight {
                p.in_flight = true;
                let (event, payload) = match &p.op {
                    ReadOp::Ids(ids) => (
                        "mark_read",
                        json::object([("ids", Value::from(ids.clone()))]),
                    ),
                    // `until`: the newest notification the user saw, so one the server creates
                    // meanwhile stays unread.
                    ReadOp::All => match &p.until {
                        Some(until) => (
                            "mark_all_read",
                            json::object([("until", Value::from(until.as_str()))]),
                        ),
                        None => ("mark_all_read", json::object([])),
                    },
                };
                fx.requests.push(StoreRequest::Push {
                    tag: RequestTag::Read(p.id),
                    event,
                    payload,
                });
            }
        }
    }

    fn add_op(&mut self, op: ReadOp) -> StoreEffects {
        self.queue_op(op);
        self.queued()
    }

    /// After reads were queued (and applied here at once): persist, report, send.
    fn queued(&mut self) -> StoreEffects {
        let mut fx = StoreEffects {
            persist: true,
            ..StoreEffects::default()
        };
        self.touch(&mut fx);
        self.flush(&mut fx);
        fx
    }

    fn queue_op(&mut self, op: ReadOp) {
        self.next_op += 1;
        // Items are newest first: the first is the newest the user has seen.
        let until = match op {
            ReadOp::All => self.items.first().map(|h| h.n.id.clone()),
            ReadOp::Ids(_) => None,
        };
        self.pending.push(Pending {
            id: self.next_op,
            op,
            until,
            watermark: self.next_seq,
            restored: false,
            in_flight: false,
            evicted: Vec::new(),
        });
    }

    /// Marks one notification read at once and tells the server. Unknown or already read: nothing.
    pub fn mark_read(&mut self, id: &str) -> StoreEffects {
        self.mark_read_ids(&[id.to_string()])
    }

    /// Marks these notifications read at once and tells the server, in `mark_read` pushes of at
    /// most [`MARK_READ_BATCH`] ids. Unknown, already read and repeated ids are left out.
    pub fn mark_read_ids(&mut self, ids: &[String]) -> StoreEffects {
        let mut wanted: Vec<String> = Vec::new();
        for id in ids {
            let held = self.items.iter().any(|h| h.n.id == *id);
            if held && !self.is_read(id) && !wanted.contains(id) {
                wanted.push(id.clone());
            }
        }
        if wanted.is_empty() {
            return StoreEffects::default();
        }
        while !wanted.is_empty() {
            let rest = wanted.split_off(wanted.len().min(MARK_READ_BATCH));
            self.queue_op(ReadOp::Ids(wanted));
            wanted = rest;
        }
        self.queued()
    }

    /// Marks everything known read at once and tells the server.
    pub fn mark_all_read(&mut self) -> StoreEffects {
        self.add_op(ReadOp::All)
    }

    /// Asks the server for the current state again.
    pub fn refresh(&mut self) -> StoreEffects {
        let mut fx = StoreEffects::default();
        if self.joined {
            fx.requests.push(StoreRequest::Push {
                tag: self.sync_tag(),
                event: "sync",
                payload: self.sync_payload(),
            });
        }
        fx
    }

    /// A frame on the channel.
    pub fn message(&mut self, now: u64, event: &str, payload: &Value) -> StoreEffects {
        let mut fx = StoreEffects::default();
        match event {
            "notification:new" => {
                let Some(raw) = payload.get("notification") else {
                    fx.errors.push((
                        "invalid_notification",
                        "notification:new without a notification".into(),
                    ));
                    return fx;
                };
                match Notification::parse(raw.clone()) {
                    // An expired notification is filtered out: not shown, not stored.
                    Ok(n) if n.expired(now) => {}
                    Ok(n) => {
                        fx.delivered.push(n.raw.clone());
                        if n.kind.stored() {
                            self.insert(n, true);
                            self.touch(&mut fx);
                        }
                    }
                    Err(e) => fx.errors.push(("invalid_notification", e.0)),
                }
            }
            "notification:read" => {
                let ids: Vec<&str> = payload
                    .get("ids")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for h in &mut self.items {
                    if ids.contains(&h.n.id.as_str()) {
                        set_read(&mut h.n, now);
                    }
                }
                for p in &mut self.pending {
                    p.evicted.retain(|id| !ids.contains(&id.as_str()));
                }
                if let Some(c) = payload.get("unread_count").and_then(Value::as_u64) {
                    self.adopt_count(now, c, &mut fx);
                }
                self.touch(&mut fx);
            }
            "notification:all_read" => {
                // Only what the server marked: ids up to `until` when it says so (a newer one
                // that arrived meanwhile stays unread).
                let until = payload.get("until").and_then(Value::as_str);
                for h in &mut self.items {
                    if until.is_none_or(|u| id_order(&h.n.id, u).is_le()) {
                        set_read(&mut h.n, now);
                    }
                }
                for p in &mut self.pending {
                    p.evicted.clear();
                }
                if let Some(c) = payload.get("unread_count").and_then(Value::as_u64) {
                    self.adopt_count(now, c, &mut fx);
                }
                self.touch(&mut fx);
            }
            _ => {}
        }
        fx
    }

    /// Inserts (or replaces by id) keeping newest first and the cap. A new unread counted
    /// notification raises the server total, as the server's own count rose.
    fn insert(&mut self, n: Notification, count_new: bool) {
        if let Some(h) = self.items.iter_mut().find(|h| h.n.id == n.id) {
            h.n = n;
            return;
        }
        // Held again: a pending read covers it as an item, no longer as an evicted one.
        for p in &mut self.pending {
            p.evicted.retain(|id| *id != n.id);
        }
        // One evicted by the cap was counted when it arrived: seen twice, counted once.
        let seen_before = self.evicted.iter().any(|id| *id == n.id);
        if count_new && n.kind.counted() && !n.read && !seen_before {
            self.server_unread += 1;
        }
        self.next_seq += 1;
        let held = Held {
            n,
            seq: self.next_seq,
        };
        let at = self
            .items
            .iter()
            .position(|h| newer(&held.n, &h.n))
            .unwrap_or(self.items.len());
        self.items.insert(at, held);
        if self.items.len() > self.cap {
            for gone in self.items.split_off(self.cap) {
                if gone.n.kind.counted() && !gone.n.read {
                    let covering = self.pending.iter_mut().find(|p| match &p.op {
                        ReadOp::Ids(ids) => ids.contains(&gone.n.id),
                        ReadOp::All => false,
                    });
                    if let Some(p) = covering {
                        p.evicted.push(gone.n.id.clone());
                    }
                }
                if !seen_before {
                    self.evicted.push_back(gone.n.id);
                }
            }
            while self.evicted.len() > EVICTED_MEMORY {
                self.evicted.pop_front();
            }
        }
    }

    /// The outcome of a push the store asked for. `Ok(response)`; `Err(message)` for an error
    /// reply, a timeout or a drop.
    pub fn reply(
        &mut self,
        now: u64,
        tag: RequestTag,
        outcome: Result<&Value, String>,
    ) -> StoreEffects {
        let mut fx = StoreEffects::default();
        match (tag, outcome) {
            (RequestTag::Sync(sent_at), Ok(resp)) => {
                self.sync_failures = 0;
                self.reconcile(now, resp, sent_at, &mut fx);
                self.status = StoreStatus::Live;
                self.touch(&mut fx);
            }
            (RequestTag::Sync(_), Err(e)) => {
                // Live updates still arrive, but what happened while disconnected is unknown
                // until a `sync` is answered: ask again, later each time.
                if self.joined {
                    self.status = StoreStatus::Live;
                    self.sync_failures = self.sync_failures.saturating_add(1);
                    fx.retry_sync = Some(self.sync_failures);
                }
                self.touch(&mut fx);
                fx.errors
                    .push(("sync_failed", ["notification sync failed: ", &e].concat()));
            }
            (RequestTag::Read(op), outcome) => {
                let Some(i) = self.pending.iter().position(|p| p.id == op && p.in_flight) else {
                    return fx; // Superseded: it went back to the queue when the connection dropped.
                };
                let p = self.pending.remove(i);
                fx.persist = true;
                match outcome {
                    Ok(resp) => {
                        let mut newly_read = 0;
                        for h in &mut self.items {
                            // What the server marked: for "all", ids up to `until` (also one
                            // that arrived after the press but is older); without `until`,
                            // everything it had when it answered, which is what arrived before
                            // its answer (a socket's frames come in the order they were made).
                            let hit = match (&p.op, &p.until) {
                                (ReadOp::Ids(ids), _) => ids.contains(&h.n.id),
                                (ReadOp::All, Some(u)) => id_order(&h.n.id, u).is_le(),
                                (ReadOp::All, None) => true,
                            };
                            if hit {
                                if h.n.kind.counted() && !h.n.read {
                                    newly_read += 1;
                                }
                                set_read(&mut h.n, now);
                            }
                        }
                        match resp.get("unread_count").and_then(Value::as_u64) {
                            Some(c) => self.adopt_count(now, c, &mut fx),
                            // Confirmed without a count: keep what was applied (after "all", only
                            // what arrived later is unread).
                            None if p.op == ReadOp::All => {
                                self.server_unread =
                                    self.items
                                        .iter()
                                        .filter(|h| h.n.kind.counted() && !h.n.read)
                                        .count() as u64;
                            }
                            None => {
                                let gone = p.evicted.len() as u64;
                                self.server_unread =
                                    self.server_unread.saturating_sub(newly_read + gone);
                            }
                        }
                    }
                    Err(e) => fx.errors.push((
                        "mark_read_failed",
                        ["marking read failed and was undone: ", &e].concat(),
                    )),
                }
                self.touch(&mut fx);
            }
        }
        fx
    }

    /// A push of the store got no reply in time. A `sync` is asked again later. A read is sent
    /// again at once (the timeout already waited) until it is answered: a timeout is not a
    /// refusal, the server may have applied it (reads are idempotent), and undoing one it applied
    /// would leave it unread here for good. Only an error reply undoes a read.
    pub fn timed_out(&mut self, now: u64, tag: RequestTag) -> StoreEffects {
        let RequestTag::Read(op) = tag else {
            return self.reply(now, tag, Err("timeout".into()));
        };
        let Some(p) = self.pending.iter_mut().find(|p| p.id == op && p.in_flight) else {
            return StoreEffects::default();
        };
        p.in_flight = false;
        let mut fx = StoreEffects::default();
        self.flush(&mut fx);
        fx
    }

    /// A `sync` reply (sent when the arrival counter stood at `sent_at`): server items replace
    /// local ones by id, held items the server no longer lists leave (all of them when the reply
    /// says it is `complete`, else those within the window between its oldest and newest item),
    /// except what arrived after the `sync` was sent; the server's count is adopted, and
    /// unconfirmed reads stay applied on top (the view is derived from them).
    fn reconcile(&mut self, now: u64, resp: &Value, sent_at: u64, fx: &mut StoreEffects) {
        let recent = resp.get("recent").and_then(Value::as_array);
        let complete = resp.get("complete").and_then(Value::as_bool) == Some(true);
        let parsed: Vec<Notification> = recent
            .map(|r| {
                r.iter()
                    .filter_map(|raw| Notification::parse(raw.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        if recent.is_some() || complete {
            let newest = parsed.iter().reduce(|a, b| if newer(b, a) { b } else { a });
            let oldest = parsed.iter().reduce(|a, b| if newer(a, b) { b } else { a });
            self.items.retain(|h| {
                // A scan: both are at most a few `cap`s long, and a sort costs the wasm 4 KB.
                if h.seq > sent_at || parsed.iter().any(|n| n.id == h.n.id) {
                    return true;
                }
                if complete {
                    return false;
                }
                // A window: what it covers and does not list is gone from the server.
                match (newest, oldest) {
                    (Some(hi), Some(lo)) => newer(&h.n, hi) || newer(lo, &h.n),
                    _ => true,
                }
            });
        }
        if let Some(recent) = recent {
            let mut expired = false;
            for n in parsed.into_iter().rev() {
                if n.expired(now) {
                    expired = true;
                } else if n.kind.stored() {
                    self.insert(n, false);
                }
            }
            // Some expired on the way: older ones may take their places.
            if expired && recent.len() >= self.cap && self.joined {
                fx.resync_soon = true;
            }
        }
        if let Some(c) = resp.get("unread_count").and_then(Value::as_u64) {
            self.adopt_count(now, c, fx);
        }
        // A restored "mark all read" covers what arrived up to the newest item the user had seen.
        let seq = self.next_seq;
        let items = &self.items;
        for p in &mut self.pending {
            if p.restored {
                p.restored = false;
                let seen = p
                    .until
                    .as_ref()
                    .and_then(|u| items.iter().find(|h| h.n.id == *u))
                    .map(|h| h.seq);
                p.watermark = seen.unwrap_or(seq);
            }
        }
    }

    /// Takes the server's count. What has expired by now is dropped first without counting it
    /// off: the server, counting at about this moment, left it out already (the expiry timer can
    /// fire late, in a background tab by up to a minute, and would take it off twice).
    fn adopt_count(&mut self, now: u64, count: u64, fx: &mut StoreEffects) {
        let before = self.items.len();
        self.items.retain(|h| !h.n.expired(now));
        self.server_unread = count;
        self.resync_after_expiry(before, 0, fx);
    }

    /// After held notifications expired (`uncounted` of them counted off here; `before` held
    /// until then): ask for a `sync` shortly when the count was adjusted by this clock, or when
    /// the store was full, so older ones the server has may fit again.
    fn resync_after_expiry(&mut self, before: usize, uncounted: u64, fx: &mut StoreEffects) {
        let dropped = before > self.items.len();
        if self.joined && (uncounted > 0 || (dropped && before >= self.cap)) {
            fx.resync_soon = true;
        }
    }

    /// Drops expired notifications (an unread counted one no longer counts).
    pub fn expire(&mut self, now: u64) -> StoreEffects {
        let mut fx = StoreEffects::default();
        let before = self.items.len();
        let mut uncounted = 0;
        self.items.retain(|h| {
            let gone = h.n.expired(now);
            if gone && h.n.kind.counted() && !h.n.read {
                uncounted += 1;
            }
            !gone
        });
        if self.items.len() != before {
            self.server_unread = self.server_unread.saturating_sub(uncounted);
            self.touch(&mut fx);
        }
        // Counted off by this clock, which is not the server's: a count already on its way
        // may or may not have left it out. A `sync` shortly after settles it, and brings back
        // older ones the cap had evicted.
        self.resync_after_expiry(before, uncounted, &mut fx);
        fx
    }
}
