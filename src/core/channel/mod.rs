//! One channel's bookkeeping. Transitions are driven by [`super::Client`], which owns the socket,
//! the timers and the refs.

use crate::prelude::*;

pub mod send_buffer;

use crate::core::json::value::Value;

use crate::core::event::{ChannelState, PushId};

#[derive(Debug)]
pub struct Channel {
    pub topic: String,
    pub params: Value,
    /// The owner gives the params for each join (an app's function, called at every join and
    /// rejoin): a join is sent once they come ([`super::Client::supply_join_params`]).
    pub params_from_owner: bool,
    /// The join waiting for its params, by request.
    pub params_request: Option<u64>,
    pub state: ChannelState,
    /// The ref of the current join attempt; messages carrying another join_ref are stale.
    pub join_ref: Option<String>,
    /// Whether a join has ever succeeded (later joins are rejoins).
    pub joined_once: bool,
    /// Failed join attempts since the last success (drives the rejoin schedule).
    pub rejoin_attempt: u32,
    /// The user's pending `join()` request, until its first outcome.
    pub join_request: Option<PushId>,
    /// The user's pending `leave()` request.
    pub leave_request: Option<PushId>,
}

impl Channel {
    pub fn new(topic: String, params: Value) -> Channel {
        Channel {
            topic,
            params,
            params_from_owner: false,
            params_request: None,
            state: ChannelState::Closed,
            join_ref: None,
            joined_once: false,
            rejoin_attempt: 0,
            join_request: None,
            leave_request: None,
        }
    }

    /// The channel wants to be joined whenever the socket is open.
    pub fn wants_membership(&self) -> bool {
        matches!(
            self.state,
            ChannelState::Joining | ChannelState::Joined | ChannelState::Errored
        )
    }
}

/// True when a message carrying `incoming` belongs to a membership whose join ref is `current`.
/// Messages without a join_ref (broadcasts) always belong. (`glue.js` applies the same rule
/// to its routes mirror.)
pub fn accepts(current: Option<&str>, incoming: Option<&str>) -> bool {
    match incoming {
        None => true,
        Some(jr) => current == Some(jr),
    }
}
