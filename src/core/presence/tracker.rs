//! A channel's presence, as phoenix.js's `Presence` instance keeps it: diffs that arrive before
//! the `presence_state` of the channel's current join are held and applied after it; plus an
//! optional leave grace window that hides a key leaving and coming back (flicker across
//! reconnects).
//!
//! A channel gets a tracker with its first presence frame, whether or not the app has asked for
//! its presence yet, so that `channel.presence()` called at any time (after the join, seconds
//! later) starts from the current state. Until it is asked for ("viewed"), the tracker keeps the
//! frames' text as they came (a copy, no parsing) and merges them in arrival order, reporting
//! nothing, once they add up to [`UNREAD_BYTES`] or when the view is made; the frames are still
//! delivered as messages meanwhile. So a channel that never reads its presence pays a copy per
//! presence frame while its traffic is small, and about what tracking costs (the merge) once it
//! is not; it holds at most [`UNREAD_BYTES`] of frames beside the merged state.

use crate::prelude::*;

use crate::core::json::scan;
use crate::core::presence::{
    parse_diff_text, read_diff_text, Presence, PresenceChange, PresenceState,
};

#[derive(Debug, Default)]
pub struct PresenceTracker {
    pub state: PresenceState,
    /// The channel join_ref whose `presence_state` was applied last.
    synced_join_ref: Option<String>,
    /// Held `presence_diff` payloads (JSON text).
    pending: Vec<String>,
    grace_ms: u64,
    /// Whether the app has asked for this presence ([`PresenceTracker::view`]).
    viewed: bool,
    /// Before the view: frames kept as they came, not yet merged.
    unread: Vec<UnreadFrame>,
    /// Their payloads' total length.
    unread_bytes: usize,
}

/// Frames kept unmerged before a view add up to at most this many bytes of payload; then they
/// are merged (silently) and the memory is given back.
pub const UNREAD_BYTES: usize = 64 * 1024;

/// A presence frame kept before the view, with the channel's join ref when it came.
#[derive(Debug)]
struct UnreadFrame {
    state: bool,
    join_ref: Option<Box<str>>,
    payload: Box<str>,
}

/// What one inbound presence frame did.
#[derive(Debug, PartialEq)]
pub enum PresenceUpdate {
    /// Applied: these changes, then a sync.
    Applied(Vec<PresenceChange>),
    /// A diff held until the current join's `presence_state` arrives.
    Held,
    /// Not JSON: nothing applied (why, for the error event).
    Malformed(String),
}

impl PresenceTracker {
    /// A tracker the app asked for: every change is reported.
    pub fn new(grace_ms: u64) -> PresenceTracker {
        PresenceTracker {
            grace_ms,
            viewed: true,
            ..Default::default()
        }
    }

    /// A tracker nobody has asked for yet: it keeps frames ([`PresenceTracker::keep`]) until
    /// [`PresenceTracker::view`].
    pub fn unviewed() -> PresenceTracker {
        PresenceTracker::default()
    }

    pub fn is_viewed(&self) -> bool {
        self.viewed
    }

    /// The leave grace window, ms (0: none).
    pub fn grace_ms(&self) -> u64 {
        self.grace_ms
    }

    /// Before the view: keeps a `presence_state` (`state`) or `presence_diff` payload that came
    /// while the channel's join ref was `join_ref`. Nothing is read now; once the kept frames
    /// add up to [`UNREAD_BYTES`] they are merged, as they would have been on arrival.
    pub fn keep(&mut self, now: u64, join_ref: Option<&str>, state: bool, payload: &str) {
        self.unread_bytes += payload.len();
        self.unread.push(UnreadFrame {
            state,
            join_ref: join_ref.map(Box::from),
            payload: Box::from(payload),
        });
        if self.unread_bytes >= UNREAD_BYTES {
            self.merge_unread(now);
        }
    }

    /// How many payload bytes are kept unmerged.
    pub fn unread_bytes(&self) -> usize {
        self.unread_bytes
    }

    /// The app asks for this presence: the kept frames are merged (their changes are not
    /// reported: nobody listened then) and from now on every change is, with a leave grace
    /// window of `grace_ms`. Idempotent: a tracker already viewed keeps its grace window.
    pub fn view(&mut self, now: u64, grace_ms: u64) {
        if self.viewed {
            return;
        }
        self.merge_unread(now);
        self.grace_ms = grace_ms;
        self.viewed = true;
    }

    /// Merges the kept frames in arrival order; malformed ones change nothing (they were
    /// reported when they came).
    fn merge_unread(&mut self, now: u64) {
        self.unread_bytes = 0;
        for frame in ::core::mem::take(&mut self.unread) {
            let join_ref = frame.join_ref.as_deref();
            if frame.state {
                let _ = self.handle_state(now, join_ref, &frame.payload);
            } else {
                let _ = self.handle_diff(now, join_ref, &frame.payload);
            }
        }
    }

    /// True while diffs are held (no `presence_state` for the current join yet).
    pub fn pending_sync(&self, join_ref: Option<&str>) -> bool {
        self.synced_join_ref.is_none() || self.synced_join_ref.as_deref() != join_ref
    }

    /// A `presence_state` (its payload's JSON text) for the channel's current join. A payload
    /// that is not a JSON object changes nothing and is an error.
    pub fn handle_state(
        &mut self,
        now: u64,
        join_ref: Option<&str>,
        payload: &str,
    ) -> Result<Vec<PresenceChange>, String> {
        let hold = self.hold_until(now);
        let mut changes = self.state.apply_state_text(payload, hold)?;
        self.synced_join_ref = join_ref.map(str::to_string);
        for diff in ::core::mem::take(&mut self.pending) {
            changes.extend(self.apply_diff_text(&diff, hold));
        }
        Ok(self.apply_grace(changes))
    }

    /// A `presence_diff`: applied, or held until the current join's state.
    /// A `presence_diff` (its payload's JSON text): applied, or held until the current join's
    /// state.
    pub fn handle_diff(
        &mut self,
        now: u64,
        join_ref: Option<&str>,
        payload: &str,
    ) -> PresenceUpdate {
        if self.pending_sync(join_ref) {
            if let Err(e) = scan::check(payload) {
                return PresenceUpdate::Malformed(e);
            }
            self.pending.push(payload.to_string());
            return PresenceUpdate::Held;
        }
        let hold = self.hold_until(now);
        let Some((joins, leaves)) = read_diff_text(payload) else {
            // Not a diff: an error if it is not JSON either, otherwise a diff of nothing.
            return match scan::check(payload) {
                Err(e) => PresenceUpdate::Malformed(e),
                Ok(()) => PresenceUpdate::Applied(Vec::new()),
            };
        };
        let changes = self.state.apply_diff(joins, leaves, hold);
        PresenceUpdate::Applied(self.apply_grace(changes))
    }

    fn hold_until(&self, now: u64) -> Option<u64> {
        (self.grace_ms > 0).then(|| now.saturating_add(self.grace_ms))
    }

    fn apply_diff_text(&mut self, payload: &str, hold: Option<u64>) -> Vec<PresenceChange> {
        let (joins, leaves) = parse_diff_text(payload);
        self.state.apply_diff(joins, leaves, hold)
    }

    /// With a grace window, a key whose last meta left is held (still listed) instead of
    /// reported; if it joins again before the window ends, neither the leave nor the join is
    /// reported.
    fn apply_grace(&mut self, changes: Vec<PresenceChange>) -> Vec<PresenceChange> {
        if self.grace_ms == 0 {
            return changes;
        }
        let mut out = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                // Held by the state instead of removed: reported only if the window closes.
                PresenceChange::Leave { ref remaining, .. } if remaining.metas.is_empty() => {}
                PresenceChange::Join {
                    ref key,
                    current: None,
                    ..
                } if self.state.take_returned(key) => {}
                other => out.push(other),
            }
        }
        self.state.clear_returned();
        out
    }

    /// The earliest grace deadline, if any key is held.
    pub fn next_deadline(&self) -> Option<u64> {
        self.state.next_hold()
    }

    /// Ends the grace windows due at `now`: those keys leave for real.
    pub fn expire(&mut self, now: u64) -> Vec<PresenceChange> {
        let due = self.state.take_due(now);
        let mut out = Vec::with_capacity(due.len());
        for key in due {
            if let Some(left) = self.state.remove(&key) {
                out.push(PresenceChange::Leave {
                    key,
                    remaining: Presence {
                        metas: Vec::new(),
                        fields: left.fields.clone(),
                    },
                    left,
                });
            }
        }
        out
    }

    /// Keys and presences in list order (held keys included).
    pub fn list(&self) -> impl Iterator<Item = (&str, &Presence)> + '_ {
        self.state.iter()
    }

    pub fn get(&self, key: &str) -> Option<&Presence> {
        self.state.get(key)
    }
}
