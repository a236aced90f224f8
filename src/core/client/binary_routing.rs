//! Inbound binary frames on the client: decoded by [`crate::core::dialect::binary`] and routed exactly like text
//! frames (replies, heartbeats, channels, presence, stores), with the payload bytes delivered as
//! `{"byteLength": n, "base64": "..."}`.

use crate::prelude::*;

use crate::core::client::Client;
use crate::core::dialect::binary::decode_binary;
use crate::core::dialect::codec::RawFrame;
use crate::core::dialect::Protocol;
use crate::core::event::Event;

impl Client {
    /// One inbound binary frame (a WebSocket `ArrayBuffer` message). Only the Phoenix dialect has
    /// binary frames; in the others it is an `unsupported_frame` error. A malformed frame is a
    /// `malformed_frame` error, an oversized one `frame_too_large`; nothing else changes.
    pub fn handle_binary(&mut self, now: u64, bytes: &[u8]) {
        self.tick(now);
        if self.dialect.protocol() != Protocol::Phoenix {
            self.emit(Event::Error {
                code: "unsupported_frame",
                message: "binary frames are only part of the phoenix protocol".to_string(),
            });
            return;
        }
        let frame = match decode_binary(bytes, self.cfg.max_frame_bytes) {
            Ok(frame) => frame,
            Err(e) => {
                self.emit(Event::Error {
                    code: e.code(),
                    message: e.message(),
                });
                return;
            }
        };
        let payload = crate::core::json::text(&frame.json_payload());
        self.route_frame(
            now,
            RawFrame::owned(
                frame.join_ref,
                frame.reference,
                frame.topic,
                frame.event,
                &payload,
            ),
        );
    }
}
