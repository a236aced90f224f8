//! A map kept as a vector of pairs, for the client's small tables: channels, pushes awaiting a
//! reply, stores, per-channel state in the driver. They hold a handful to a few hundred entries,
//! where a scan costs about what hashing does, and each value type costs the wasm a few small
//! functions instead of a copy of a hash table's code (which is most of what such a table adds
//! to the download). Entries iterate in the order they were first inserted. Every lookup is a
//! scan: fine for the sizes above, slow for tens of thousands of entries (see the README's
//! known limits).

use std::borrow::Borrow;

#[derive(Debug, Clone)]
pub struct SmallMap<K, V> {
    items: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap { items: Vec::new() }
    }
}

impl<K: Eq, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn position<Q: Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.items.iter().position(|(k, _)| k.borrow() == key)
    }

    pub fn get<Q: Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let i = self.position(key)?;
        self.items.get(i).map(|(_, v)| v)
    }

    pub fn get_mut<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.position(key)?;
        self.items.get_mut(i).map(|(_, v)| v)
    }

    pub fn contains_key<Q: Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; the value it replaces, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Some(i) => self
                .items
                .get_mut(i)
                .map(|slot| std::mem::replace(&mut slot.1, value)),
            None => {
                self.items.push((key, value));
                None
            }
        }
    }

    pub fn remove<Q: Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.position(key)?;
        Some(self.items.remove(i).1)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.items.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.items.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> + '_ {
        self.items.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.items.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.items.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.items.iter_mut().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;

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
