//! JavaScript's property order for a presence map's keys: array-index keys first, ascending,
//! then the others in insertion order.

use crate::prelude::*;

/// The array-index value of a key, as JavaScript orders own properties: canonical decimal
/// integers below 2^32 - 1 come first, ascending.
pub fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = crate::core::util::text::digits(key)?;
    (n < u32::MAX as u64).then_some(n as u32)
}

/// Orders entries of a JSON object as JavaScript iterates it.
pub fn js_order<K: AsRef<str>, T>(entries: Vec<(K, T)>) -> Vec<(K, T)> {
    let mut ints: Vec<(u32, usize)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, (k, _))| Some((array_index(k.as_ref())?, i)))
        .collect();
    if ints.is_empty() {
        return entries;
    }
    sort_index_keys(&mut ints);
    let mut slots: Vec<Option<(K, T)>> = entries.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for &(_, i) in &ints {
        if let Some(entry) = slots.get_mut(i).and_then(Option::take) {
            out.push(entry);
        }
    }
    out.extend(slots.into_iter().flatten());
    out
}

/// Sorts `(array index, position)` pairs, given in position order, by index; equal indexes keep
/// their order. A least-significant-digit radix sort, a byte per pass (a pass whose byte is the
/// same in every key is skipped): linear time, and a few hundred bytes of wasm where the
/// standard library's sort costs over 4 KB.
pub(super) fn sort_index_keys(keys: &mut Vec<(u32, usize)>) {
    let mut other = vec![(0u32, 0usize); keys.len()];
    for shift in [0u32, 8, 16, 24] {
        let digit = |k: u32| ((k >> shift) & 0xff) as usize;
        let mut starts = [0usize; 256];
        for &(k, _) in keys.iter() {
            starts[digit(k)] += 1;
        }
        if starts.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for slot in starts.iter_mut() {
            let n = *slot;
            *slot = sum;
            sum += n;
        }
        for &entry in keys.iter() {
            let d = digit(entry.0);
            if let Some(to) = other.get_mut(starts[d]) {
                *to = entry;
            }
            starts[d] += 1;
        }
        ::core::mem::swap(keys, &mut other);
    }
}

#[cfg(test)]
mod tests {
    use super::{js_order, sort_index_keys};
    use crate::prelude::*;

    /// The radix sort against the standard sort, on index sets that exercise every byte pass
    /// (and the skipped ones): small, byte-spanning, up to u32::MAX - 1, with duplicates.
    #[test]
    fn index_keys_sort_like_a_stable_sort() {
        let mut seed = 0x9e37_79b9_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (len, bound) in [
            (0, 1),
            (1, 9),
            (50, 10),
            (300, 256),
            (2_000, 70_000),
            (5_000, 1 << 25),
            (5_000, u32::MAX as u64 - 1),
        ] {
            let mut keys: Vec<(u32, usize)> =
                (0..len).map(|i| ((next() % bound) as u32, i)).collect();
            let mut want = keys.clone();
            want.sort_by_key(|&(k, _)| k);
            sort_index_keys(&mut keys);
            assert_eq!(keys, want, "{len} keys below {bound}");
        }
    }

    #[test]
    fn entries_come_in_javascript_property_order() {
        let entries = vec![
            ("b", 1),
            ("10", 2),
            ("a", 3),
            ("2", 4),
            ("01", 5),
            ("4294967295", 6),
            ("0", 7),
            ("300", 8),
        ];
        let keys: Vec<&str> = js_order(entries).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["0", "2", "10", "300", "b", "a", "01", "4294967295"]);
    }
}
