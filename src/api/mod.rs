//! The JavaScript surface: `Socket` and `Channel`, their options, and conversions in one place.

pub mod channel;
pub mod convert;
pub mod notifications;
pub mod options;
pub mod presence;
pub mod socket;
pub mod subscription;
pub mod types;
pub mod url;
pub mod validate;

pub use channel::Channel;
pub use socket::Socket;
