//! The one timer table. Every deadline of the client lives here; the driver arms a single real
//! timer for [`TimerTable::next_deadline`].

use crate::core::util::small_map::SmallMap;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// Next reconnect attempt.
    Reconnect,
    /// The WebSocket has not opened in time.
    ConnectTimeout,
    /// Send the next heartbeat, or give up waiting for the last one's reply.
    Heartbeat,
    /// The oldest buffered send expires.
    BufferExpiry,
    /// A channel's next rejoin attempt.
    Rejoin(u32),
    /// A channel's join attempt got no reply.
    JoinAttempt(u32),
    /// A push (or a join/leave request) got no reply.
    Push(u64),
    /// A channel's presence leave grace window ends.
    PresenceGrace(u32),
    /// The earliest held notification of a channel's store expires.
    NotificationExpiry(u32),
    /// A channel's store asks for its `sync` again after one failed.
    NotificationSync(u32),
}

/// Deadlines in ms, one per key. A client has a handful of timers plus one per request awaiting
/// a reply, so the earliest is found by a scan (ties go to the smaller key, for determinism).
#[derive(Debug, Default)]
pub struct TimerTable {
    by_key: SmallMap<TimerKey, u64>,
}

impl TimerTable {
    pub fn set(&mut self, key: TimerKey, deadline: u64) {
        self.by_key.insert(key, deadline);
    }

    pub fn cancel(&mut self, key: TimerKey) {
        self.by_key.remove(&key);
    }

    pub fn get(&self, key: TimerKey) -> Option<u64> {
        self.by_key.get(&key).copied()
    }

    fn earliest(&self) -> Option<(u64, TimerKey)> {
        self.by_key.iter().map(|(k, d)| (*d, *k)).min()
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.earliest().map(|(d, _)| d)
    }

    /// Removes and returns the earliest timer due at `now`, with its deadline.
    pub fn pop_due(&mut self, now: u64) -> Option<(TimerKey, u64)> {
        let (deadline, key) = self.earliest()?;
        if deadline > now {
            return None;
        }
        self.by_key.remove(&key);
        Some((key, deadline))
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}
