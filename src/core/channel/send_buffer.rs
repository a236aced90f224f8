//! Sends waiting for the socket to open or their channel to be joined: bounded in count, each
//! with a time-to-live.

use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::core::json::value::Value;

use crate::core::event::{ChannelId, PushId};

/// What a push carries: a JSON object (a text frame), or bytes (a Phoenix binary frame, as
/// phoenix.js sends an `ArrayBuffer` payload).
#[derive(Debug, Clone, PartialEq)]
pub enum PushBody {
    Json(Value),
    Binary(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Waiting {
    pub push: PushId,
    pub channel: ChannelId,
    pub event: String,
    pub payload: PushBody,
    pub timeout_ms: u64,
    pub expires_at: u64,
}

#[derive(Debug, Default)]
pub struct SendBuffer {
    items: VecDeque<Waiting>,
}

impl SendBuffer {
    /// Adds a send; returns the one evicted to respect `max`, if any (the oldest).
    pub fn push(&mut self, item: Waiting, max: usize) -> Option<Waiting> {
        self.items.push_back(item);
        if self.items.len() > max.max(1) {
            self.items.pop_front()
        } else {
            None
        }
    }

    /// Removes and returns every send whose time-to-live has passed at `now`.
    pub fn take_expired(&mut self, now: u64) -> Vec<Waiting> {
        self.take_where(&|w| w.expires_at <= now)
    }

    /// Removes and returns every send of `channel`, oldest first.
    pub fn take_channel(&mut self, channel: ChannelId) -> Vec<Waiting> {
        self.take_where(&|w| w.channel == channel)
    }

    /// Removes and returns the sends `take` picks, oldest first; the others keep their order.
    /// (One loop of pops for both callers: a `VecDeque` drain's drop alone is over 1 KB of wasm.)
    fn take_where(&mut self, take: &dyn Fn(&Waiting) -> bool) -> Vec<Waiting> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::new();
        while let Some(w) = self.items.pop_front() {
            if take(&w) {
                taken.push(w);
            } else {
                kept.push_back(w);
            }
        }
        self.items = kept;
        taken
    }

    pub fn next_expiry(&self) -> Option<u64> {
        self.items.iter().map(|w| w.expires_at).min()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
