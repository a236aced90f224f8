//! Writing JSON: a string literal escaped as serde_json escapes it. A leaf: values write
//! themselves through it ([`super::value::Value::write`]).

use crate::prelude::*;

/// Appends `s` to `out` as a JSON string literal, escaped as serde_json escapes (`"`, `\\`,
/// and control characters: the short forms where JSON has one, else `\u00xx`); everything else
/// as is.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(from..i).unwrap_or_default());
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(short);
        }
        from = i + 1;
    }
    out.push_str(s.get(from..).unwrap_or_default());
    out.push('"');
}

// serde_json is a native dev-dependency.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::write_string;
    use crate::prelude::*;

    /// Escapes as serde_json's writer does, for every ASCII character and some beyond.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut samples: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        samples.extend(
            [
                "",
                "plain",
                "a\"b\\c",
                "line\nbreak\u{1f}",
                "é ü 日本 🎉",
                "\u{2028}\u{7f}",
            ]
            .map(String::from),
        );
        for s in samples {
            let mut written = String::from("x");
            write_string(&mut written, &s);
            assert_eq!(
                written,
                ["x", &serde_json::to_string(&s).unwrap()].concat(),
                "{s:?}"
            );
        }
    }
}
