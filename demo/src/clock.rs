//! Wall-clock time as Unix milliseconds and as ISO-8601 UTC text with milliseconds
//! (`2026-11-23T11:14:14.123Z`). Every timestamp the server writes has that one fixed-width
//! form, so comparing the texts compares the times (years 0000–9999).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `ms` (Unix milliseconds) as `YYYY-MM-DDTHH:MM:SS.mmmZ`, clamped to years 0000–9999.
pub fn iso_ms(ms: i64) -> String {
    // 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
    const MIN: i64 = -62_167_219_200_000;
    const MAX: i64 = 253_402_300_799_999;
    let ms = ms.clamp(MIN, MAX);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_ms(1_795_432_454_123), "2026-11-23T11:14:14.123Z");
        assert_eq!(iso_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_ms(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso_ms(i64::MIN), "0000-01-01T00:00:00.000Z");
        assert!(iso_ms(now_ms()).starts_with("20"));
    }

    #[test]
    fn text_order_is_time_order() {
        let times = [
            -5_000,
            0,
            999,
            1000,
            86_399_999,
            86_400_000,
            1_795_432_454_123,
        ];
        for w in times.windows(2) {
            assert!(iso_ms(w[0]) < iso_ms(w[1]));
        }
    }
}
