//! Presence on the client: channels that track presence get their `presence_state` and
//! `presence_diff` frames merged into a [`PresenceTracker`] instead of delivered as messages.
//! A channel whose presence nobody has asked for yet still has its presence frames kept (and
//! delivered as messages), so that presence taken later starts from the current state.

use crate::prelude::*;

use crate::core::client::Client;
use crate::core::event::{ChannelId, Event};
use crate::core::presence::tracker::{PresenceTracker, PresenceUpdate};
use crate::core::util::timers::TimerKey;

impl Client {
    /// Tracks presence on `channel` from now on (idempotent), starting from the presence frames
    /// that came before (the current join's `presence_state` and what followed it).
    /// `leave_grace_ms` > 0 hides a key that leaves and returns within that time (the first
    /// call's value holds).
    pub fn track_presence(&mut self, channel: ChannelId, leave_grace_ms: u64) {
        if !self.channels.contains_key(&channel.0) {
            return;
        }
        let now = self.last_now;
        match self.presence.get_mut(&channel.0) {
            Some(tracker) => tracker.view(now, leave_grace_ms),
            None => {
                self.presence
                    .insert(channel.0, PresenceTracker::new(leave_grace_ms));
            }
        }
    }

    /// Records the keys each presence change touches, for a copy of the list kept elsewhere
    /// (see [`Client::take_presence_touches`]).
    pub fn record_presence_touches(&mut self, channel: ChannelId, on: bool) {
        if let Some(t) = self.presence.get_mut(&channel.0) {
            t.state.record_touches(on);
        }
    }

    /// How many touches are waiting to be taken.
    pub fn presence_touch_count(&self, channel: ChannelId) -> usize {
        self.presence
            .get(&channel.0)
            .map_or(0, |t| t.state.touch_count())
    }

    /// The keys touched since the last call, in order.
    pub fn take_presence_touches(
        &mut self,
        channel: ChannelId,
    ) -> Vec<crate::core::presence::Touch> {
        self.presence
            .get_mut(&channel.0)
            .map(|t| t.state.take_touches())
            .unwrap_or_default()
    }

    /// The presence of a tracking channel.
    pub fn presence(&self, channel: ChannelId) -> Option<&PresenceTracker> {
        self.presence.get(&channel.0).filter(|t| t.is_viewed())
    }

    /// The presence frames kept for a channel that does not track presence yet (payload bytes
    /// not yet merged), or `None` when it keeps none.
    pub fn unread_presence_bytes(&self, channel: ChannelId) -> Option<usize> {
        self.presence
            .get(&channel.0)
            .filter(|t| !t.is_viewed())
            .map(PresenceTracker::unread_bytes)
    }

    /// Applies a presence frame (its payload's JSON text) to a tracking channel; false when the
    /// frame is to be delivered as a message: not a presence frame, or one for a channel whose
    /// presence nobody has asked for yet (kept for when it is).
    pub(in crate::core) fn route_presence(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: &str,
    ) -> bool {
        if event != "presence_state" && event != "presence_diff" {
            return false;
        }
        // Borrowed from `channels` while `presence` is borrowed mutably: two fields of self.
        let join_ref = self
            .channels
            .get(&channel.0)
            .and_then(|c| c.join_ref.as_deref());
        let tracker = match self.presence.get_mut(&channel.0) {
            Some(tracker) if tracker.is_viewed() => tracker,
            Some(tracker) => {
                tracker.keep(now, join_ref, event == "presence_state", payload);
                return false;
            }
            None => {
                if self.channels.contains_key(&channel.0) {
                    let mut tracker = PresenceTracker::unviewed();
                    tracker.keep(now, join_ref, event == "presence_state", payload);
                    self.presence.insert(channel.0, tracker);
                }
                return false;
            }
        };
        let changes = if event == "presence_state" {
            match tracker.handle_state(now, join_ref, payload) {
                Ok(changes) => Some(changes),
                Err(e) => {
                    self.emit(Event::Error {
                        code: "malformed_frame",
                        message: ["presence_state is not valid JSON: ", &e].concat(),
                    });
                    return true;
                }
            }
        } else {
            match tracker.handle_diff(now, join_ref, payload) {
                PresenceUpdate::Applied(changes) => Some(changes),
                PresenceUpdate::Held => None,
                PresenceUpdate::Malformed(e) => {
                    self.emit(Event::Error {
                        code: "malformed_frame",
                        message: ["presence_diff is not valid JSON: ", &e].concat(),
                    });
                    return true;
                }
            }
        };
        self.rearm_presence_timer(channel);
        if let Some(changes) = changes {
            self.emit(Event::Presence { channel, changes });
        }
        true
    }

    pub(in crate::core) fn on_presence_grace(&mut self, now: u64, channel: ChannelId) {
        let Some(tracker) = self.presence.get_mut(&channel.0) else {
            return;
        };
        let changes = tracker.expire(now);
        self.rearm_presence_timer(channel);
        if !changes.is_empty() {
            self.emit(Event::Presence { channel, changes });
        }
    }

    fn rearm_presence_timer(&mut self, channel: ChannelId) {
        match self
            .presence
            .get(&channel.0)
            .and_then(|t| t.next_deadline())
        {
            Some(at) => self.timers.set(TimerKey::PresenceGrace(channel.0), at),
            None => self.timers.cancel(TimerKey::PresenceGrace(channel.0)),
        }
    }
}
