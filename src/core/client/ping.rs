//! `socket.ping()`: a heartbeat of its own whose reply gives the connection's round trip, as
//! phoenix.js's `socket.ping(callback)` does. It does not count as the socket's heartbeat and
//! times out like a push.

use crate::core::client::{CallError, Client, Request};
use crate::core::event::{Event, Output, PushId, PushOutcome, SocketState};
use crate::core::json::value::Value;
use crate::core::util::timers::TimerKey;

impl Client {
    /// Sends a ping; the request ends with the round trip in ms, or a timeout. Refused when the
    /// socket is not open, or on a dialect whose heartbeat carries no ref (hub, nova).
    pub fn ping(&mut self, now: u64) -> Result<PushId, CallError> {
        self.tick(now);
        if self.state != SocketState::Open {
            return Err(CallError::new(
                "not_connected",
                "ping() needs an open connection",
            ));
        }
        let reference = self.make_ref();
        let frame = match self.dialect.acknowledged() {
            true => self.dialect.heartbeat(&reference),
            false => None,
        };
        let Some(frame) = frame else {
            return Err(CallError::new(
                "unsupported",
                "ping() needs a protocol whose replies carry a ref (Phoenix)",
            ));
        };
        let push = self.make_push_id();
        self.out.push_back(Output::Send(frame));
        self.requests.insert(
            push,
            Request::Ping {
                reference,
                sent_at: now,
            },
        );
        self.timers.set(
            TimerKey::Push(push.0),
            now.saturating_add(self.cfg.timeout_ms),
        );
        Ok(push)
    }

    /// A heartbeat reply with this ref: when it answers a ping, the ping ends with the round
    /// trip and true is returned.
    pub(in crate::core) fn on_ping_reply(&mut self, now: u64, reference: &str) -> bool {
        let found = self.requests.iter().find_map(|(push, r)| match r {
            Request::Ping {
                reference: r,
                sent_at,
            } if r == reference => Some((*push, *sent_at)),
            _ => None,
        });
        let Some((push, sent_at)) = found else {
            return false;
        };
        self.requests.remove(&push);
        self.timers.cancel(TimerKey::Push(push.0));
        self.emit(Event::Reply {
            push,
            outcome: PushOutcome::Ok(Value::from(now.saturating_sub(sent_at))),
        });
        true
    }
}
