//! A map kept as a vector of pairs, for the client's small tables: channels, pushes awaiting a
//! reply, stores, per-channel state in the driver. They hold a handful to a few hundred entries,
//! where a scan costs about what hashing does, and each value type costs the wasm a few small
//! functions instead of a copy of a hash table's code (which is most of what such a table adds
//! to the download). Entries iterate in the order they were first inserted. Every lookup is a
//! scan: fine for the sizes above, slow for tens of thousands of entries (see the README's
//! known limits).

use crate::prelude::*;

use alloc::borrow::Borrow;

#[derive(Debug, Clone)]
pub struct SmallMap<K, V> {
    /// Keys and values side by side: a lookup scans `keys` alone, and its code is one copy
    /// per key type, shared by every value type.
    keys: Vec<K>,
    values: Vec<V>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// Where `key` is in `keys`.
fn position<K: Borrow<Q>, Q: Eq + ?Sized>(keys: &[K], key: &Q) -> Option<usize> {
    keys.iter().position(|k| k.borrow() == key)
}

impl<K: Eq, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get<Q: Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.values.get(position(&self.keys, key)?)
    }

    pub fn get_mut<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.values.get_mut(position(&self.keys, key)?)
    }

    pub fn contains_key<Q: Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        position(&self.keys, key).is_some()
    }

    /// Sets `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match position(&self.keys, &key).and_then(|i| self.values.get_mut(i)) {
            Some(slot) => Some(::core::mem::replace(slot, value)),
            None => {
                self.keys.push(key);
                self.values.push(value);
                None
            }
        }
    }

    pub fn remove<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = position(&self.keys, key)?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    /// Keeps the entries `keep` says yes to, in order: one pass, kept entries swapped forward.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let mut kept = 0;
        for i in 0..self.keys.len() {
            let yes = match (self.keys.get(i), self.values.get_mut(i)) {
                (Some(k), Some(v)) => keep(k, v),
                _ => true,
            };
            if yes {
                self.keys.swap(kept, i);
                self.values.swap(kept, i);
                kept += 1;
            }
        }
        self.keys.truncate(kept);
        self.values.truncate(kept);
    }

    pub fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.keys.iter().zip(self.values.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.keys.iter().zip(self.values.iter_mut())
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.keys.iter()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.values.iter()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.values.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;
    use crate::prelude::*;

    #[test]
    fn behaves_as_a_map() {
        let mut m: SmallMap<String, u32> = SmallMap::new();
        assert_eq!(m.insert("a".into(), 1), None);
        assert_eq!(m.insert("b".into(), 2), None);
        assert_eq!(m.insert("a".into(), 3), Some(1));
        assert_eq!(
            (m.get("a"), m.get("b"), m.get("c")),
            (Some(&3), Some(&2), None)
        );
        assert!(m.contains_key("b"));
        if let Some(v) = m.get_mut("b") {
            *v = 20;
        }
        assert_eq!(m.remove("a"), Some(3));
        assert_eq!(m.remove("a"), None);
        assert_eq!(m.len(), 1);
        m.insert("c".into(), 30);
        m.retain(|k, v| {
            *v += 1;
            k != "c"
        });
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(&"b".to_string(), &21)]);
        m.clear();
        assert!(m.is_empty());
    }
}
