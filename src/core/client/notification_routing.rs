//! Notification stores on the client: each owns a channel (`user:{id}:notifications`), syncs on
//! every join, and sends its reads as pushes whose replies come back to it, not to the user.

use crate::prelude::*;

use crate::core::json::value::Value;

use crate::core::client::Client;
use crate::core::event::ChannelState;
use crate::core::event::{ChannelId, Event, PushId, PushOutcome};
use crate::core::notifications::store::{
    NotificationStore, StoreEffects, StoreRequest, StoredRead, RESYNC_AFTER_EXPIRY_MS,
};
use crate::core::util::timers::TimerKey;

impl Client {
    /// Creates a notification store on `topic` (a channel joined at once, kept joined), holding at
    /// most `cap` notifications, with unconfirmed reads restored from storage.
    pub fn notifications<R: Into<StoredRead>>(
        &mut self,
        now: u64,
        topic: &str,
        cap: usize,
        restored: Vec<R>,
    ) -> ChannelId {
        let channel = self.channel(topic, crate::core::dialect::codec::empty_object());
        let store = NotificationStore::new(cap, restored);
        self.stores.by_channel.insert(channel.0, store);
        let _ = self.join(now, channel);
        channel
    }

    pub fn notification_store(&self, channel: ChannelId) -> Option<&NotificationStore> {
        self.stores.by_channel.get(&channel.0)
    }

    pub fn mark_read(&mut self, now: u64, channel: ChannelId, id: &str) {
        self.with_store(now, channel, |s| s.mark_read(id));
    }

    /// Several at once, in as few pushes as [`crate::core::notifications::store::MARK_READ_BATCH`]
    /// allows.
    pub fn mark_read_ids(&mut self, now: u64, channel: ChannelId, ids: &[String]) {
        self.with_store(now, channel, |s| s.mark_read_ids(ids));
    }

    pub fn mark_all_read(&mut self, now: u64, channel: ChannelId) {
        self.with_store(now, channel, |s| s.mark_all_read());
    }

    pub fn refresh_notifications(&mut self, now: u64, channel: ChannelId) {
        self.with_store(now, channel, |s| s.refresh());
    }

    fn with_store(
        &mut self,
        now: u64,
        channel: ChannelId,
        f: impl FnOnce(&mut NotificationStore) -> StoreEffects,
    ) {
        let Some(store) = self.stores.by_channel.get_mut(&channel.0) else {
            return;
        };
        let fx = f(store);
        self.apply_store_effects(now, channel, fx);
    }

    fn apply_store_effects(&mut self, now: u64, channel: ChannelId, fx: StoreEffects) {
        for StoreRequest::Push {
            tag,
            event,
            payload,
        } in fx.requests
        {
            if let Ok(push) = self.push(now, channel, event, payload, None) {
                self.stores.pushes.insert(push, (channel, tag));
            }
        }
        for notification in fx.delivered {
            self.emit(Event::Notification {
                channel,
                notification,
            });
        }
        if fx.resync_soon {
            let key = TimerKey::NotificationSync(channel.0);
            let at = now.saturating_add(RESYNC_AFTER_EXPIRY_MS);
            if self.timers.get(key).is_none_or(|due| due > at) {
                self.timers.set(key, at);
            }
        }
        if let Some(failures) = fx.retry_sync {
            let delay = self.cfg.rejoin.delay(failures, self.rng.as_mut());
            self.timers.set(
                TimerKey::NotificationSync(channel.0),
                now.saturating_add(delay),
            );
        }
        for (code, message) in fx.errors {
            self.emit(Event::Error { code, message });
        }
        if fx.persist {
            let pending = self
                .stores
                .by_channel
                .get(&channel.0)
                .map(|s| s.stored_reads().iter().map(StoredRead::to_value).collect())
                .unwrap_or_default();
            self.emit(Event::NotificationsPersist { channel, pending });
        }
        if fx.changed {
            self.emit(Event::NotificationsChanged { channel });
        }
        match self
            .stores
            .by_channel
            .get(&channel.0)
            .and_then(NotificationStore::next_expiry)
        {
            Some(at) => self.timers.set(TimerKey::NotificationExpiry(channel.0), at),
            None => self.timers.cancel(TimerKey::NotificationExpiry(channel.0)),
        }
    }

    /// Takes the reply of a store's push; returns it back when it is not a store's.
    pub(in crate::core) fn store_reply(
        &mut self,
        now: u64,
        push: PushId,
        outcome: PushOutcome,
    ) -> Option<PushOutcome> {
        let Some((channel, tag)) = self.stores.pushes.remove(&push) else {
            return Some(outcome);
        };
        if self.stores.pipelined.get(&channel.0) == Some(&push) {
            self.stores.pipelined.remove(&channel.0);
            if self.channel_state(channel) != Some(ChannelState::Joined) {
                // The join it followed failed (or has not been confirmed): the next join sends
                // its own `sync`; this answer is for nobody.
                return None;
            }
        }
        let result: Result<&Value, String> = match &outcome {
            PushOutcome::Timeout => {
                self.with_store(now, channel, |s| s.timed_out(now, tag));
                return None;
            }
            PushOutcome::Ok(resp) => Ok(resp),
            PushOutcome::Error { status, response } => Err(response
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or(status)
                .to_string()),
            PushOutcome::Dropped(r) => Err(["dropped (", r.name(), ")"].concat()),
        };
        self.with_store(now, channel, |s| s.reply(now, tag, result));
        None
    }

    /// Whether this frame goes to a notification store.
    pub(in crate::core) fn is_store_message(&self, channel: ChannelId, event: &str) -> bool {
        event.starts_with("notification:") && self.stores.by_channel.contains_key(&channel.0)
    }

    /// Frames for a store's channel.
    pub(in crate::core) fn store_message(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: &Value,
    ) -> bool {
        if !self.stores.by_channel.contains_key(&channel.0) || !event.starts_with("notification:") {
            return false;
        }
        self.with_store(now, channel, |s| s.message(now, event, payload));
        true
    }

    /// Sends a store's `sync` right behind its channel's `phx_join`: the server reads a
    /// socket's frames in order (Phoenix handles the join before the next frame), so the `sync`
    /// is answered right after the join instead of a round trip later. A `sync` sent with an
    /// earlier join attempt is forgotten (its reply is for a join that is gone).
    pub(in crate::core) fn pipeline_store_sync(&mut self, now: u64, channel: ChannelId) {
        if let Some(old) = self.stores.pipelined.remove(&channel.0) {
            self.stores.pushes.remove(&old);
        }
        let (payload, tag) = match self.stores.by_channel.get(&channel.0) {
            Some(store) => (store.sync_payload(), store.sync_tag()),
            None => return,
        };
        let push = self.make_push_id();
        let timeout_ms = self.cfg.timeout_ms;
        let payload = crate::core::channel::send_buffer::PushBody::Json(payload);
        self.send_push(now, push, channel, "sync", &payload, timeout_ms);
        self.stores.pushes.insert(push, (channel, tag));
        self.stores.pipelined.insert(channel.0, push);
    }

    pub(in crate::core) fn store_joined(&mut self, now: u64, channel: ChannelId) {
        // This join's own `sync` supersedes a retry.
        self.timers.cancel(TimerKey::NotificationSync(channel.0));
        let sync_sent = self
            .stores
            .pipelined
            .get(&channel.0)
            .is_some_and(|push| self.stores.pushes.contains_key(push));
        self.with_store(now, channel, |s| s.joined_after(sync_sent));
    }

    /// The server refused the store's join: its status says so, with the server's reason.
    pub(in crate::core) fn store_join_refused(
        &mut self,
        now: u64,
        channel: ChannelId,
        reason: &str,
    ) {
        if let Some(old) = self.stores.pipelined.remove(&channel.0) {
            self.stores.pushes.remove(&old);
        }
        self.with_store(now, channel, |s| s.join_refused(reason));
    }

    pub(in crate::core) fn store_disconnected(&mut self, now: u64, channel: ChannelId) {
        if !self.stores.by_channel.contains_key(&channel.0) {
            return;
        }
        // Replies to what was in flight can no longer arrive: forget those pushes.
        self.stores.pushes.retain(|_, (c, _)| *c != channel);
        self.stores.pipelined.remove(&channel.0);
        self.timers.cancel(TimerKey::NotificationSync(channel.0));
        self.with_store(now, channel, |s| s.disconnected());
    }

    pub(in crate::core) fn on_notification_expiry(&mut self, now: u64, channel: ChannelId) {
        self.with_store(now, channel, |s| s.expire(now));
    }
}
