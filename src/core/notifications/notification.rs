//! One notification as the wire carries it, its kinds, and the badge text.
//!
//! `{id, kind: transient | toast | activity | alert | system, title, body?, data, read_at | null,
//! inserted_at, expires_at?}` — timestamps are ISO-8601 strings or unix milliseconds.

use crate::prelude::*;

use crate::core::json::value::Value;
use core::cmp::Ordering;

/// How a notification is delivered and counted (seed 001's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Push only: reaches listeners, never stored or counted ("user is typing").
    Transient,
    /// Push only: reaches listeners, never stored or counted ("message sent").
    Toast,
    /// Stored and counted.
    Activity,
    /// Stored and counted.
    Alert,
    /// Stored, not counted in the badge.
    System,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "transient" => Kind::Transient,
            "toast" => Kind::Toast,
            "activity" => Kind::Activity,
            "alert" => Kind::Alert,
            "system" => Kind::System,
            _ => return None,
        })
    }

    pub fn stored(self) -> bool {
        !matches!(self, Kind::Transient | Kind::Toast)
    }

    pub fn counted(self) -> bool {
        matches!(self, Kind::Activity | Kind::Alert)
    }
}

/// A notification: the fields the store needs, and the object as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub kind: Kind,
    /// `read_at` was set by the server.
    pub read: bool,
    /// Sort key: `inserted_at` as unix ms (0 when absent or unreadable).
    pub inserted_ms: u64,
    pub expires_ms: Option<u64>,
    pub raw: Value,
}

/// Why a notification object was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidNotification(pub String);

impl Notification {
    pub fn parse(v: Value) -> Result<Notification, InvalidNotification> {
        let Some(obj) = v.as_object() else {
            return Err(InvalidNotification(
                "a notification must be an object".into(),
            ));
        };
        let id = match obj.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(n @ Value::Number(_)) => crate::core::json::text(n),
            _ => return Err(InvalidNotification("a notification needs an id".into())),
        };
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .and_then(Kind::parse)
            .ok_or_else(|| {
                InvalidNotification(["notification ", &id, " has no valid kind"].concat())
            })?;
        let read = !matches!(obj.get("read_at"), None | Some(Value::Null));
        let inserted_ms = obj.get("inserted_at").and_then(time_ms).unwrap_or(0);
        let expires_ms = obj.get("expires_at").and_then(time_ms);
        Ok(Notification {
            id,
            kind,
            read,
            inserted_ms,
            expires_ms,
            raw: v,
        })
    }

    pub fn expired(&self, now: u64) -> bool {
        matches!(self.expires_ms, Some(t) if t <= now)
    }
}

/// A timestamp as unix ms: a number of ms, or an ISO-8601 / RFC 3339 UTC string
/// (`2026-11-23T11:14:14Z`, fractional seconds and `+00:00` accepted).
pub fn time_ms(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64),
        Value::String(s) => parse_iso8601(s),
        _ => None,
    }
}

fn parse_iso8601(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: ::core::ops::Range<usize>| -> Option<i64> {
        i64::try_from(crate::core::util::text::digits(s.get(r)?)?).ok()
    };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut ms = 0i64;
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        let scaled: String = digits.chars().chain("000".chars()).take(3).collect();
        ms = i64::try_from(crate::core::util::text::digits(&scaled)?).ok()?;
        rest = frac.get(digits.len()..)?;
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh = i64::try_from(crate::core::util::text::digits(rest.get(1..3)?)?).ok()?;
            let om = i64::try_from(crate::core::util::text::digits(
                rest.get(rest.len().saturating_sub(2)..)?,
            )?)
            .ok()?;
            sign * (oh * 60 + om)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    u64::try_from(secs * 1000 + ms).ok()
}

/// The badge text: "" at 0, the number up to 99, "99+" above.
pub fn badge(unread: u64) -> String {
    match unread {
        0 => String::new(),
        1..=99 => crate::core::util::text::decimal(unread),
        _ => "99+".to_string(),
    }
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Every field is non-negative: `ms` is after 1970.
    let p = |n: i64, width| crate::core::util::text::padded(n.unsigned_abs(), width);
    [
        &p(y, 4),
        "-",
        &p(m, 2),
        "-",
        &p(d, 2),
        "T",
        &p(rem / 3600, 2),
        ":",
        &p((rem % 3600) / 60, 2),
        ":",
        &p(rem % 60, 2),
        ".",
        &p((ms % 1000) as i64, 3),
        "Z",
    ]
    .concat()
}

/// Whether `a` is shown above `b`: inserted later, or in the same millisecond with a greater id
/// (ids made in one millisecond grow with each one, as the demo server's do), so the first item
/// is the newest and a "mark all read up to it" covers what the server covers.
pub fn newer(a: &Notification, b: &Notification) -> bool {
    a.inserted_ms
        .cmp(&b.inserted_ms)
        .then_with(|| id_order(&a.id, &b.id))
        .is_gt()
}

/// Ids in the server's order: decimal ids as numbers (`"9"` before `"10"`), others as strings
/// (the demo server's `0001795495598036-00001` ids sort by time that way).
pub fn id_order(a: &str, b: &str) -> Ordering {
    let decimal = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if decimal(a) && decimal(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

/// Marks read as the server did; `read_at` becomes `now` unless the server's object has one.
pub fn set_read(n: &mut Notification, now: u64) {
    if !n.read {
        n.read = true;
        if let Some(obj) = n.raw.as_object_mut() {
            if matches!(obj.get("read_at"), None | Some(Value::Null)) {
                obj.insert("read_at".into(), Value::String(iso8601(now)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{id_order, iso8601, parse_iso8601};
    use core::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn iso8601_writes_utc_with_milliseconds_and_reads_back() {
        for (ms, text) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (1_763_900_000_123, "2025-11-23T12:13:20.123Z"),
            (951_782_400_999, "2000-02-29T00:00:00.999Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso8601(ms), text);
            assert_eq!(parse_iso8601(text), Some(ms));
        }
        // Offsets and fractions as RFC 3339 writes them; signs or spaces inside a field are not.
        assert_eq!(
            parse_iso8601("2025-11-23T13:13:20.1+01:00"),
            Some(1_763_900_000_100)
        );
        assert_eq!(
            parse_iso8601("2025-11-23T11:43:20-00:30"),
            Some(1_763_900_000_000)
        );
        for bad in [
            "2025-+1-23T12:13:20Z",
            "2025-11-23T12:13: 0Z",
            "2025-11-23T12:13:20+-1:00",
            "+025-11-23T12:13:20Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_compare_as_numbers_when_decimal_and_as_strings_otherwise() {
        assert_eq!(id_order("9", "10"), Less);
        assert_eq!(id_order("010", "10"), Equal);
        assert_eq!(id_order("123", "45"), Greater);
        assert_eq!(
            id_order("0001795495598036-00002", "0001795495598036-00010"),
            Less
        );
        assert_eq!(id_order("n9", "n10"), Greater, "not decimal: as strings");
        assert_eq!(id_order("", "0"), Less);
    }
}
