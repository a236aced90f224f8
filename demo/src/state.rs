//! The state every HTTP route and WebSocket dialect shares (its own module, so `http` and
//! `dialects` both use it without using each other both ways).

use crate::auth::Auth;
use crate::hub::Hub;
use crate::security::{self, Security};
use crate::store::Store;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// Largest WebSocket message accepted from a client (a larger one closes the socket with 1009).
pub const MAX_MESSAGE_BYTES: usize = security::MAX_FRAME_BYTES;

#[derive(Clone)]
pub struct AppState {
    pub hub: Arc<Hub>,
    /// Tracks socket tasks so shutdown can wait for their close frames to go out.
    pub sockets: TaskTracker,
    pub store: Store,
    pub auth: Auth,
    /// The Origin allow-list and the push rate limit.
    pub security: Arc<Security>,
}
