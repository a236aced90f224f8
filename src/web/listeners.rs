//! The user's callbacks, by kind, each with the id its unsubscribe function removes.

use crate::prelude::*;

use js_sys::Function;

use crate::core::ChannelId;

#[derive(Default)]
pub struct Listeners {
    next_id: u32,
    /// Bumped by every change to `messages` (the routes mirror follows it).
    version: u64,
    pub state: Vec<(u32, Function)>,
    pub error: Vec<(u32, Function)>,
    /// Only through `add_message` / `remove…`, which keep `version`.
    messages: Vec<(u32, ChannelId, String, Function)>,
    pub joins: Vec<(u32, ChannelId, Function)>,
    pub channel_states: Vec<(u32, ChannelId, Function)>,
    pub presence_join: Vec<(u32, ChannelId, Function)>,
    pub presence_leave: Vec<(u32, ChannelId, Function)>,
    pub presence_sync: Vec<(u32, ChannelId, Function)>,
    pub presence_subs: Vec<(u32, ChannelId, Function)>,
    pub store_subs: Vec<(u32, ChannelId, Function)>,
    pub notifications: Vec<(u32, ChannelId, Function)>,
    pub telemetry: Vec<(u32, Function)>,
}

impl Listeners {
    pub fn next_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn messages(&self) -> &[(u32, ChannelId, String, Function)] {
        &self.messages
    }

    /// Adds a message listener; returns its id.
    pub fn add_message(&mut self, channel: ChannelId, event: String, listener: Function) -> u32 {
        let id = self.next_id();
        self.messages.push((id, channel, event, listener));
        self.version += 1;
        id
    }

    /// Removes the listener with this id, wherever it is.
    pub fn remove(&mut self, id: u32) {
        self.version += 1;
        self.state.retain(|(i, _)| *i != id);
        self.error.retain(|(i, _)| *i != id);
        self.messages.retain(|(i, ..)| *i != id);
        self.joins.retain(|(i, ..)| *i != id);
        self.channel_states.retain(|(i, ..)| *i != id);
        self.presence_join.retain(|(i, ..)| *i != id);
        self.presence_leave.retain(|(i, ..)| *i != id);
        self.presence_sync.retain(|(i, ..)| *i != id);
        self.presence_subs.retain(|(i, ..)| *i != id);
        self.store_subs.retain(|(i, ..)| *i != id);
        self.notifications.retain(|(i, ..)| *i != id);
        self.telemetry.retain(|(i, _)| *i != id);
    }

    /// Removes every listener of a channel.
    pub fn remove_channel(&mut self, channel: ChannelId) {
        self.version += 1;
        self.messages.retain(|(_, c, ..)| *c != channel);
        self.joins.retain(|(_, c, _)| *c != channel);
        self.channel_states.retain(|(_, c, _)| *c != channel);
        self.presence_join.retain(|(_, c, _)| *c != channel);
        self.presence_leave.retain(|(_, c, _)| *c != channel);
        self.presence_sync.retain(|(_, c, _)| *c != channel);
    }
}
