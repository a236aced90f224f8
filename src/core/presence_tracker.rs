//! A channel's presence, as phoenix.js's `Presence` instance keeps it: diffs that arrive before
//! the `presence_state` of the channel's current join are held and applied after it; plus an
//! optional leave grace window that hides a key leaving and coming back (flicker across
//! reconnects).

use crate::prelude::*;

use super::json_scan;
use super::presence::{parse_diff_text, read_diff_text, Presence, PresenceChange, PresenceState};

#[derive(Debug, Default)]
pub struct PresenceTracker {
    pub state: PresenceState,
    /// The channel join_ref whose `presence_state` was applied last.
    synced_join_ref: Option<String>,
    /// Held `presence_diff` payloads (JSON text).
    pending: Vec<String>,
    grace_ms: u64,
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
    pub fn new(grace_ms: u64) -> PresenceTracker {
        PresenceTracker {
            grace_ms,
            ..Default::default()
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
            if let Err(e) = json_scan::check(payload) {
                return PresenceUpdate::Malformed(e);
            }
            self.pending.push(payload.to_string());
            return PresenceUpdate::Held;
        }
        let hold = self.hold_until(now);
        let Some((joins, leaves)) = read_diff_text(payload) else {
            // Not a diff: an error if it is not JSON either, otherwise a diff of nothing.
            return match json_scan::check(payload) {
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
