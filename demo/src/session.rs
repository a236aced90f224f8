//! Per-connection protocol logic: one decoded frame in, the frames to send straight back out.
//! Broadcasts travel through the hub to each member's outbox instead.

use crate::auth::Identity;
use crate::binary_frame::BinaryPush;
use crate::channels::{self, notifications, room, Channel, Reply, ReplyTo};
use crate::frame::Frame;
use crate::hub::{ConnId, Hub, Member, Outbox};
use crate::log;
use crate::store::Store;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub const PHOENIX_TOPIC: &str = "phoenix";

/// What a binary push is answered with.
pub enum BinaryAnswer {
    /// A binary reply frame.
    Binary(Vec<u8>),
    /// A text frame (an error reply).
    Text(Frame),
}

pub struct Session {
    conn: ConnId,
    hub: Arc<Hub>,
    tx: Outbox,
    store: Store,
    /// Who the connection's token says it is; `None` for an anonymous connection.
    identity: Option<Identity>,
}

impl Session {
    pub fn new(
        conn: ConnId,
        hub: Arc<Hub>,
        tx: Outbox,
        store: Store,
        identity: Option<Identity>,
    ) -> Self {
        Session {
            conn,
            hub,
            tx,
            store,
            identity,
        }
    }

    pub fn conn(&self) -> ConnId {
        self.conn
    }

    /// Handle one frame; returns the frames to send back to this connection, in order.
    pub async fn handle(&self, frame: Frame) -> Vec<Frame> {
        if frame.topic == PHOENIX_TOPIC && frame.event == "heartbeat" {
            return vec![reply_ok(&frame, frame.join_ref.as_deref(), json!({}))];
        }
        if frame.event == "phx_join" {
            return self.join(frame);
        }
        let Some(member) = self.hub.member(&frame.topic, self.conn) else {
            return vec![unmatched(&frame)];
        };
        if frame.event == "phx_leave" {
            return self.leave(frame, member);
        }
        let reply = match channels::route(&frame.topic) {
            Some(Channel::Room) => room::handle_in(
                &self.hub,
                &member,
                &frame.topic,
                &frame.event,
                frame.payload.clone(),
            ),
            Some(Channel::Notifications) => match &self.identity {
                // Only the topic's own user can be a member (checked at join).
                Some(identity) => {
                    notifications::handle_in(
                        &self.store,
                        &self.hub,
                        &identity.user_id,
                        &frame.topic,
                        &frame.event,
                        frame.payload.clone(),
                        ReplyTo::new(self.tx.clone(), member.join_ref.clone(), &frame),
                    )
                    .await
                }
                None => Reply::Error(notifications::UNAUTHORIZED),
            },
            None => Reply::Error("unmatched topic"),
        };
        let join_ref = member.join_ref.as_deref();
        match reply {
            Reply::Ok(response) => vec![reply_ok(&frame, join_ref, response)],
            Reply::Error(reason) => vec![reply_error(&frame, join_ref, reason)],
            Reply::None => Vec::new(),
        }
    }

    /// Handle a push whose payload is bytes (a Phoenix channel's `handle_in(event, {:binary,
    /// data}, socket)`). On a room, `binary_echo` is answered with a binary reply carrying the
    /// same bytes; anything else gets an error reply (a text frame), as does a topic the
    /// connection has not joined.
    pub fn handle_binary(&self, push: &BinaryPush) -> BinaryAnswer {
        let as_frame = Frame {
            join_ref: push.join_ref.clone(),
            ref_: push.ref_.clone(),
            topic: push.topic.clone(),
            event: push.event.clone(),
            payload: Map::new(),
        };
        let Some(member) = self.hub.member(&push.topic, self.conn) else {
            return BinaryAnswer::Text(unmatched(&as_frame));
        };
        let join_ref = member.join_ref.as_deref();
        match channels::route(&push.topic) {
            Some(Channel::Room) if push.event == "binary_echo" => {
                BinaryAnswer::Binary(push.reply("ok", &push.payload))
            }
            _ => BinaryAnswer::Text(reply_error(&as_frame, join_ref, "unknown event")),
        }
    }

    fn join(&self, frame: Frame) -> Vec<Frame> {
        let Some(channel) = channels::route(&frame.topic) else {
            log!(
                "conn {}: join of unmatched topic {:?}",
                self.conn,
                frame.topic
            );
            return vec![unmatched(&frame)];
        };
        if channel == Channel::Notifications
            && !notifications::may_join(self.identity.as_ref(), &frame.topic)
        {
            log!(
                "conn {}: refused join of {:?} (user {:?})",
                self.conn,
                frame.topic,
                self.identity.as_ref().map(|i| i.user_id.as_str())
            );
            return vec![reply_error(
                &frame,
                frame.join_ref.as_deref(),
                notifications::UNAUTHORIZED,
            )];
        }
        // An authenticated connection is named by its token, never by join params.
        let name = match &self.identity {
            Some(identity) => identity.name.clone(),
            None => room::name_from_join(&frame.payload),
        };
        let member = Member {
            conn: self.conn,
            join_ref: frame.join_ref.clone(),
            name,
            tx: self.tx.clone(),
        };
        log!(
            "conn {}: joined {:?} as {:?}",
            self.conn,
            frame.topic,
            member.name
        );
        let key = member.name.clone();
        let replaced = match channel {
            // Tracked under the user's name; the hub queues the presence_diff and then the
            // presence_state, which go out after the reply returned here.
            Channel::Room => {
                let meta = room::presence_meta(&key);
                self.hub.join_tracked(&frame.topic, member, &key, meta)
            }
            Channel::Notifications => self.hub.join(&frame.topic, member),
        };
        let mut out = Vec::new();
        if let Some(old) = replaced {
            // Like Phoenix: a duplicate join closes the old channel first.
            out.push(Frame::close(old.join_ref.as_deref(), &frame.topic));
        }
        out.push(reply_ok(&frame, frame.join_ref.as_deref(), json!({})));
        out
    }

    fn leave(&self, frame: Frame, member: Member) -> Vec<Frame> {
        self.hub.leave(&frame.topic, self.conn);
        log!("conn {}: left {:?}", self.conn, frame.topic);
        let join_ref = member.join_ref.as_deref();
        // Like Phoenix: the leave is acknowledged, then the channel reports its close.
        vec![
            reply_ok(&frame, join_ref, json!({})),
            Frame::close(join_ref, &frame.topic),
        ]
    }

    /// Drop every membership of this connection.
    pub fn close(&self) -> Vec<String> {
        self.hub.remove_conn(self.conn)
    }
}

fn reply_ok(to: &Frame, join_ref: Option<&str>, response: Value) -> Frame {
    Frame::reply(join_ref, to.ref_.as_deref(), &to.topic, "ok", response)
}

fn reply_error(to: &Frame, join_ref: Option<&str>, reason: &str) -> Frame {
    let mut response = Map::new();
    response.insert("reason".into(), Value::String(reason.to_owned()));
    Frame::reply(
        join_ref,
        to.ref_.as_deref(),
        &to.topic,
        "error",
        Value::Object(response),
    )
}

/// Phoenix's answer to a join or push on a topic the connection has no channel for:
/// an error reply with a null join ref.
fn unmatched(to: &Frame) -> Frame {
    reply_error(to, None, "unmatched topic")
}
