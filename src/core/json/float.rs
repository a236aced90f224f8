//! A JSON number's text as `f64`, without Rust's float parser: the reader in `json.rs` calls it
//! for a number that is not an integer.

/// A number's value as `f64` (the text matches the grammar): its first 19 significant digits
/// as an integer, times or divided by a power of ten. Exact when the digits fit in 53 bits and
/// the power is at most 10^22 (the usual JSON numbers); otherwise within two units in the last
/// place while the result is a normal `f64` (`tests/core/json_reader.rs` holds it to that), the
/// best effort of serde_json's default reader (core's exact parser would add 15 KB to the wasm).
/// `None` when it overflows `f64`.
pub(in crate::core) fn float(text: &str) -> Option<f64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (digits_part, exp_part) = match body.find(['e', 'E']) {
        Some(i) => (
            body.get(..i).unwrap_or_default(),
            body.get(i + 1..).unwrap_or_default(),
        ),
        None => (body, ""),
    };
    let (exp_negative, exp_digits) = match exp_part.as_bytes().first() {
        Some(b'-') => (true, exp_part.get(1..).unwrap_or_default()),
        Some(b'+') => (false, exp_part.get(1..).unwrap_or_default()),
        _ => (false, exp_part),
    };
    // Saturated far beyond any f64 exponent, so the digits can move it back into range.
    let magnitude = exp_digits
        .bytes()
        .fold(0i64, |n, d| (n * 10 + i64::from(d - b'0')).min(1 << 40));
    let mut exponent = if exp_negative { -magnitude } else { magnitude };
    let mut significand: u64 = 0;
    let mut seen_point = false;
    let mut significant = 0;
    for c in digits_part.bytes() {
        match c {
            b'.' => seen_point = true,
            b'0'..=b'9' => {
                if significand == 0 && c == b'0' {
                    if seen_point {
                        exponent -= 1;
                    }
                } else if significant < 19 {
                    significand = significand * 10 + u64::from(c - b'0');
                    significant += 1;
                    if seen_point {
                        exponent -= 1;
                    }
                } else if !seen_point {
                    exponent += 1;
                }
            }
            _ => return None,
        }
    }
    let mut f = significand as f64;
    if f != 0.0 {
        while exponent < -308 {
            f /= 1e308;
            exponent += 308;
            if f == 0.0 {
                break;
            }
        }
        if exponent > 308 {
            return None;
        }
        // 10^e as an exact 10^(e mod 22) and a nearest 10^(22·(e div 22)): two tables of 37
        // entries instead of one of 309 (2.5 KB of the wasm that gzip cannot shrink).
        let e = exponent.unsigned_abs() as usize;
        let small = POW10.get(e % 22).copied().unwrap_or(1.0);
        let large = match e / 22 {
            0 => 1.0,
            q => POW10_BY_22.get(q - 1).copied().unwrap_or(f64::INFINITY),
        };
        if exponent >= 0 {
            f = f * small * large;
        } else {
            f = f / small / large;
        }
    }
    if f.is_infinite() {
        return None;
    }
    Some(if negative { -f } else { f })
}

/// 10^0 ..= 10^21, each exact in `f64`.
static POW10: [f64; 22] = [
    1.0,
    10.0,
    100.0,
    1000.0,
    10000.0,
    100000.0,
    1000000.0,
    10000000.0,
    100000000.0,
    1000000000.0,
    10000000000.0,
    100000000000.0,
    1000000000000.0,
    10000000000000.0,
    100000000000000.0,
    1000000000000000.0,
    1e+16,
    1e+17,
    1e+18,
    1e+19,
    1e+20,
    1e+21,
];

/// 10^22, 10^44, … 10^308: 10^(22·q) for q = 1 ..= 14, each the nearest `f64`.
#[allow(clippy::excessive_precision)]
static POW10_BY_22: [f64; 14] = [
    1e22, 1e44, 1e66, 1e88, 1e110, 1e132, 1e154, 1e176, 1e198, 1e220, 1e242, 1e264, 1e286, 1e308,
];
