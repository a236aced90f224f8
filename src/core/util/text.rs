//! Numbers as decimal text (itoa), for messages and wire fields, without `core::fmt`: the library
//! builds its messages by concatenation (`[a, b].concat()`), so its own code never calls Rust's
//! formatting machinery (what is left of it in the wasm is reached only from the standard
//! library's panic paths; docs/design.md, "No `core::fmt`").

use crate::prelude::*;

/// `n` in decimal, zero-padded to at least `width` digits.
pub fn padded(n: u64, width: usize) -> String {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    let mut out = String::with_capacity(digits.len().max(width));
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
    out
}

/// `n` in decimal.
pub fn decimal(n: u64) -> String {
    padded(n, 1)
}

/// The number a run of ASCII digits spells (no sign, no spaces); `None` for anything else or
/// when it does not fit `u64`. (Instead of `str::parse`, which also takes a `+` and brings its
/// own copy of the loop per integer type.)
pub fn digits(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        let d = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::{decimal, digits, padded};
    use std::format;

    #[test]
    fn digits_read_only_unsigned_decimal_text() {
        for n in [0u64, 7, 10, 12_345, u64::MAX - 1, u64::MAX] {
            assert_eq!(digits(&decimal(n)), Some(n));
            assert_eq!(digits(&padded(n, 25)), Some(n));
        }
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1a",
            "18446744073709551616",
            "١",
        ] {
            assert_eq!(digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_read_as_rust_formats_them() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(decimal(n), format!("{n}"));
            for width in 0..22 {
                assert_eq!(padded(n, width), format!("{n:0width$}"));
            }
        }
    }
}
