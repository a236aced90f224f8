//! Wire dialects: how frames look on the socket. Reconnects, resync, stores and presence do not
//! change with the dialect; only the codec, the heartbeat and how membership is expressed do.
//!
//! - `phoenix`: Phoenix Channels V2 JSON — joins and pushes acknowledged by the server.
//! - `hub` (MemoriesDB): membership is the connection's query string (`?c=a&c=b`); a publish is
//!   `{"method":"pub","params":{"channel","content"}}`; inbound frames are `{"channel","content"}`.
//! - `nova` (nova_pubsub): the endpoint path is the channel; inbound frames are
//!   `{"event","data"}`; the heartbeat is the text `ping` answered by `pong`.

use crate::prelude::*;

pub mod binary;
pub mod codec;
mod hub;
mod nova;
mod phoenix;
mod wire;

pub use hub::Hub;
pub use nova::Nova;
pub use phoenix::Phoenix;
pub use wire::{Inbound, Protocol, WireDialect};

impl Protocol {
    /// This protocol's codec and heartbeat.
    pub fn dialect(self) -> Box<dyn WireDialect> {
        match self {
            Protocol::Phoenix => Box::new(Phoenix),
            Protocol::Hub => Box::new(Hub),
            Protocol::Nova => Box::new(Nova),
        }
    }
}
