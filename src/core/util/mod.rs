//! Small building blocks shared by the parts: the hash map, the random source, the small map,
//! number text and the timer table.

pub mod rng;
pub mod small_map;
pub mod text;
pub mod timers;

/// The map for keys that come in large numbers (presence keys): hashbrown with rustc-hash's Fx
/// hasher, small and fast, not resistant to deliberate collisions (the keys come from the server
/// the client already trusts with its state). Every such map is an `FxMap<Cow<str>, usize>`: one
/// copy of the hash table's code.
pub(in crate::core) type FxMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;
