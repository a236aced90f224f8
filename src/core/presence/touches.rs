//! The keys a presence state touched since a copy of its list (the browser's `list()` mirror)
//! was last brought up to date, at most one record per key: replayed in order onto the copy,
//! they give the state's keys, order and presences (`tests/core/presence_touches.rs`).
//!
//! A record says what to do with a key, not what happened to it, so a key set and removed
//! many times while nobody read the list costs one record, or none.

use crate::prelude::*;

use alloc::borrow::Cow;

use crate::core::util::FxMap;

/// A change to one key of the state, for keeping a copy of the list up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// The key's presence was set; `fresh` when the key was not in the state before (it goes
    /// to the end of the order).
    Set {
        key: String,
        fresh: bool,
    },
    Removed(String),
}

/// What a presence state did to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchKind {
    /// Set a key it held: its place stays.
    SetInPlace,
    /// Set a key it did not hold: it goes to the end of the order.
    SetFresh,
    Removed,
}

#[derive(Debug, Default, Clone)]
pub struct Touches {
    /// Records in replay order; `None` where a later record replaced one.
    list: Vec<Option<Touch>>,
    /// Key → its record's index × 2, plus 1 when the copy held the key when the batch began.
    /// (The presence index's map type: one copy of the hash table's code.)
    at: FxMap<Cow<'static, str>, usize>,
}

impl Touches {
    /// Records what happened to `key`.
    pub fn touch(&mut self, key: &str, kind: TouchKind) {
        let Some(&entry) = self.at.get(key) else {
            // The first touch of the batch: the copy holds the key unless the state did not.
            let entry = self.push(key, kind, kind != TouchKind::SetFresh);
            self.at.insert(Cow::Owned(key.to_string()), entry);
            return;
        };
        let (index, held_at_start) = (entry / 2, entry % 2 == 1);
        match kind {
            // Replaying the earlier `Set` reads the presence as it is then: nothing to add.
            TouchKind::SetInPlace => {}
            TouchKind::SetFresh | TouchKind::Removed => {
                if let Some(slot) = self.list.get_mut(index) {
                    *slot = None;
                }
                if kind == TouchKind::Removed && !held_at_start {
                    // Absent from the copy then and now.
                    self.at.remove(key);
                } else {
                    let entry = self.push(key, kind, held_at_start);
                    if let Some(e) = self.at.get_mut(key) {
                        *e = entry;
                    }
                }
            }
        }
    }

    /// Appends a record; returns its entry for `at`.
    fn push(&mut self, key: &str, kind: TouchKind, held_at_start: bool) -> usize {
        let touch = match kind {
            TouchKind::SetInPlace => Touch::Set {
                key: key.to_string(),
                fresh: false,
            },
            TouchKind::SetFresh => Touch::Set {
                key: key.to_string(),
                fresh: true,
            },
            TouchKind::Removed => Touch::Removed(key.to_string()),
        };
        let entry = self.list.len() * 2 + usize::from(held_at_start);
        self.list.push(Some(touch));
        entry
    }

    /// The records, in replay order; the next batch starts empty.
    pub fn take(&mut self) -> Vec<Touch> {
        // `clear` writes every bucket: a table grown by one large batch (a rejoin touching
        // the whole room) is dropped rather than cleared on each small batch after it.
        if self.at.capacity() > 4 * self.at.len().max(16) {
            self.at = FxMap::default();
        } else {
            self.at.clear();
        }
        ::core::mem::take(&mut self.list)
            .into_iter()
            .flatten()
            .collect()
    }

    /// How many records are kept, replaced ones included: what the memory held until the next
    /// [`Touches::take`] grows with.
    pub fn len(&self) -> usize {
        self.list.len()
    }
}
