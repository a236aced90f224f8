//! What the standard library's prelude would bring into scope, for a `no_std` crate that
//! allocates: each module starts with `use crate::prelude::*;`.

pub use alloc::boxed::Box;
pub use alloc::string::{String, ToString};
pub use alloc::vec;
pub use alloc::vec::Vec;
