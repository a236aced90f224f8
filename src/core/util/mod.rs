//! Small building blocks shared by the parts: the hash map, the random source, the small map,
//! number text and the timer table.

pub(in crate::core) mod fxhash;
pub mod rng;
pub mod small_map;
pub mod text;
pub mod timers;
