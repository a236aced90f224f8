//! The notification stores of one client, by channel, and which pushes belong to them.

use crate::core::event::{ChannelId, PushId};
use crate::core::notifications::store::{NotificationStore, RequestTag};
use crate::core::util::small_map::SmallMap;

/// The stores of one client, and which pushes belong to them.
#[derive(Debug, Default)]
pub struct Stores {
    pub(in crate::core) by_channel: SmallMap<u32, NotificationStore>,
    pub(in crate::core) pushes: SmallMap<PushId, (ChannelId, RequestTag)>,
    /// The `sync` sent right behind a channel's current `phx_join`, by channel.
    pub(in crate::core) pipelined: SmallMap<u32, PushId>,
}
