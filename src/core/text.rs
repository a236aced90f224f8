//! Numbers as decimal text, for messages and wire fields, without `core::fmt`: the library
//! builds its messages by concatenation (`[a, b].concat()`), so Rust's formatting machinery,
//! about 3 KB of the gzipped wasm, stays out of the module (BENCHMARKS.md, P3).

use crate::prelude::*;

/// `n` in decimal, zero-padded to at least `width` digits.
pub fn padded(mut n: u64, width: usize) -> String {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let used = digits.len() - start;
    let mut out = String::with_capacity(used.max(width));
    for _ in used..width {
        out.push('0');
    }
    for &d in &digits[start..] {
        out.push(char::from(d));
    }
    out
}

/// `n` in decimal.
pub fn decimal(n: u64) -> String {
    padded(n, 1)
}

/// `n` in decimal, with a `-` when negative.
pub fn signed(n: i64) -> String {
    if n < 0 {
        ["-", &decimal(n.unsigned_abs())].concat()
    } else {
        decimal(n.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::{decimal, padded, signed};
    use std::format;

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
        for n in [0i64, -1, 7, -10, i64::MIN, i64::MAX, -1_234_567] {
            assert_eq!(signed(n), format!("{n}"));
        }
    }
}
