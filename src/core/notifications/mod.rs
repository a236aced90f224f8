//! The notification store: notifications, the read operations on them, and the store itself.

pub mod notification;
pub(in crate::core) mod reads;
pub mod store;
pub(in crate::core) mod stores;
