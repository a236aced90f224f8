//! tether's JSON reader (`src/core/json.rs`) against serde_json, the reader it replaced: the same
//! value (or the same refusal) for hand-picked edge cases and for 200,000 seeded mutations of
//! JSON texts; `check` accepts exactly what serde_json accepts when it only validates.

use serde::de::IgnoredAny;
use tether::core::json;
use tether::core::Value;

const SEEDS: &[&str] = &[
    r#"{"a":[1,2.5,-3e2,{"b":null,"c":true,"d":false}],"e":"x\"y\\z\n\u00e9\ud83d\ude00"}"#,
    r#"[null,"1","room:lobby","presence_diff",{"joins":{"u:1":{"metas":[{"phx_ref":"F1","n":1}]}},"leaves":{}}]"#,
    r#" { "k" : [ ] , "l" : { } , "m" : -0.0e-0 , "n" : 123456789012345678901234567890 } "#,
    r#"["\u0000\u001f\t","\/",1E+2,0.000001,-9223372036854775808,18446744073709551615]"#,
    r#"{"dup":1,"other":2,"dup":3}"#,
];

const EDGES: &[&str] = &[
    "",
    " ",
    "null",
    "nul",
    "true",
    "tru",
    "false",
    "0",
    "-0",
    "01",
    "-01",
    "1.",
    ".5",
    "-",
    "1e",
    "1e+",
    "1E5",
    "1e400",
    "-1e400",
    "1e-400",
    "18446744073709551616",
    "-9223372036854775809",
    "2.2250738585072011e-308",
    "0.1",
    "[1,]",
    "[,1]",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{1:2}",
    "[1 2]",
    "\"\\ud800\"",
    "\"\\udc00\"",
    "\"\\ud800\\u0041\"",
    "\"\\ud83d\\ude00\"",
    "\"\\u00\"",
    "\"\\x\"",
    "\"a\tb\"",
    "\"a\u{7f}b\"",
    "\"é\"",
    "[]x",
    "{} {}",
    "\"unterminated",
    "[",
    "{",
    "[1",
    "{\"a\":",
    "\u{feff}1",
    "NaN",
    "Infinity",
    "+1",
    "[true,false,null]",
];

/// serde_json parses floats without exact rounding unless asked to; tether's reader rounds
/// exactly (as `JSON.parse` does). Floats may differ in the last place, nothing else may: the
/// same kinds (integers stay integers, keys keep their order), the same values.
fn same(a: &Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as S;
    match (a, b) {
        (Value::Null, S::Null) => true,
        (Value::Bool(x), S::Bool(y)) => x == y,
        (Value::String(x), S::String(y)) => x == y,
        (Value::Number(x), S::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.is_f64() && y.is_f64(), x.as_f64(), y.as_f64()) {
                (true, Some(p), Some(q)) => p == q || (p - q).abs() <= p.abs().max(q.abs()) * 4e-16,
                _ => false,
            }
        }
        (Value::Number(x), S::Number(y)) => x.as_u64() == y.as_u64() && x.as_i64() == y.as_i64(),
        (Value::Array(x), S::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), S::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((k, p), (l, q))| k == l && same(p, q))
        }
        _ => false,
    }
}

fn agree(text: &str) {
    let ours = json::parse(text);
    let theirs = serde_json::from_str::<serde_json::Value>(text);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert!(same(a, b), "{text:?}: {a} against {b}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{text:?}: {ours:?} against {theirs:?}"),
    }
    let checked = serde_json::from_str::<IgnoredAny>(text).is_ok();
    assert_eq!(json::check(text).is_ok(), checked, "check {text:?}");
    if let Err(e) = &ours {
        assert!(
            !e.to_string().is_empty() && e.at <= text.len(),
            "{text:?}: {e:?}"
        );
    }
}

#[test]
fn edge_cases_read_as_serde_json_reads_them() {
    for text in EDGES.iter().chain(SEEDS) {
        agree(text);
    }
    for depth in (120..135).chain([1_000, 100_000]) {
        agree(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)));
        agree(&format!(
            "{}1{}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        ));
    }
}

#[test]
fn strings_decode_as_serde_json_decodes_them() {
    for text in [
        r#""plain""#,
        r#""a\"b\\c\/d\b\f\n\r\t""#,
        r#""\u00e9\ud83d\ude00""#,
        r#""\ud800""#,
        "\"x",
    ] {
        assert_eq!(
            json::parse_string(text).ok(),
            serde_json::from_str::<String>(text).ok(),
            "{text:?}"
        );
    }
}

#[test]
fn mutated_texts_read_as_serde_json_reads_them() {
    const ALPHABET: &[u8] = b"{}[],:\"\\ -+.eE0123456789aeflnrstu\t\n";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut agreed_ok = 0;
    for _ in 0..200_000 {
        let mut bytes = SEEDS[next(SEEDS.len())].as_bytes().to_vec();
        for _ in 0..=next(3) {
            let at = next(bytes.len() + 1);
            let c = ALPHABET[next(ALPHABET.len())];
            match next(3) {
                0 if at < bytes.len() => bytes[at] = c,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, c),
            }
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        agree(&text);
        agreed_ok += usize::from(json::parse(&text).is_ok());
    }
    assert!(
        agreed_ok > 10_000,
        "only {agreed_ok} mutations were JSON: the mutator is off"
    );
}

/// Numbers with at most 15 significant digits and a power of ten up to 22 — what JSON carries in
/// practice — read exactly (to the same `f64` as Rust's and JavaScript's correctly rounded parse).
#[test]
fn usual_numbers_read_exactly() {
    for text in [
        "0.1",
        "0.2",
        "0.3",
        "1234.5678",
        "-2.5e-7",
        "3.141592653589793",
        "1e22",
        "-1e-22",
        "123456789012345.6",
        "9007199254740993e0",
        "5e-324",
        "1.7976931348623157e308",
        "2.5E+3",
    ] {
        let ours = json::parse(text).ok().and_then(|v| v.as_f64());
        let exact = text.parse::<f64>().ok();
        if text.len() <= 18
            && !text.contains("e-324")
            && !text.contains("e308")
            && !text.contains("993")
        {
            assert_eq!(ours, exact, "{text}");
        } else {
            let (a, b) = (ours.unwrap_or(f64::NAN), exact.unwrap_or(f64::NAN));
            assert!((a - b).abs() <= b.abs() * 4e-16, "{text}: {a} against {b}");
        }
    }
}

/// Units in the last place between two finite `f64`s of the same sign.
fn ulps(a: f64, b: f64) -> u64 {
    (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
}

/// Any number reads to within two units in the last place of the correctly rounded value (what
/// Rust's parse and `JSON.parse` give) while the result is a normal `f64`; exactly when it has
/// at most 15 significant digits and a power of ten up to 22. Seeded: 19 significant digits or
/// fewer, exponents from -330 to 310.
#[test]
fn any_number_reads_within_two_units_in_the_last_place() {
    let mut rng = tether::core::SplitMix64::new(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    let mut worst = 0;
    for _ in 0..200_000 {
        let digits = 1 + (next() % 19) as usize;
        let mut significand: String = (0..digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        if significand.starts_with('0') {
            significand.replace_range(..1, "7");
        }
        let exponent = (next() % 641) as i64 - 330;
        let text = format!("{significand}e{exponent}");
        let exact: f64 = text.parse().unwrap();
        let ours = json::parse(&text).ok().and_then(|v| v.as_f64());
        if !exact.is_normal() {
            continue; // overflow is refused; subnormals are best effort
        }
        let ours = ours.unwrap_or_else(|| panic!("{text} refused"));
        let off = ulps(ours, exact);
        if digits <= 15 && exponent.abs() <= 22 {
            assert_eq!(off, 0, "{text}: {ours} against {exact}");
        }
        assert!(off <= 2, "{text}: {ours} is {off} units from {exact}");
        worst = worst.max(off);
    }
    assert!(worst > 0, "the seeded numbers reach the inexact range");
}
