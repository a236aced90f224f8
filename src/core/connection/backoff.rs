//! Retry delays: exponential growth with jitter between a minimum and a cap, a fixed table
//! (phoenix.js style), or a caller-supplied function.

use crate::prelude::*;

use crate::core::util::rng::RandomSource;

/// How long to wait before retry number `attempt` (1-based).
pub enum Schedule {
    /// `ceiling = min(max_ms, min_ms · 2^(attempt-1))`; the delay is drawn uniformly from
    /// `[ceiling - jitter·(ceiling - min_ms), ceiling]`. `jitter = 1` is full jitter.
    Exponential {
        min_ms: u64,
        max_ms: u64,
        jitter: f64,
    },
    /// `table[attempt-1]`, the last entry repeating.
    Table(Vec<u64>),
    /// Any function of the attempt number.
    Custom(Box<dyn FnMut(u32) -> u64>),
}

impl ::core::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        match self {
            Schedule::Exponential {
                min_ms,
                max_ms,
                jitter,
            } => f
                .debug_struct("Exponential")
                .field("min_ms", min_ms)
                .field("max_ms", max_ms)
                .field("jitter", jitter)
                .finish(),
            Schedule::Table(t) => f.debug_tuple("Table").field(t).finish(),
            Schedule::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A retry schedule plus the rules around it.
#[derive(Debug)]
pub struct Backoff {
    pub schedule: Schedule,
    /// Give up after this many consecutive failed attempts (`None`: never).
    pub max_attempts: Option<u32>,
    /// The attempt counter resets only after a connection stayed up this long.
    pub reset_after_ms: u64,
}

/// Longest delay any schedule may return (a day): keeps deadlines finite.
const MAX_DELAY_MS: u64 = 86_400_000;

impl Backoff {
    pub fn exponential(min_ms: u64, max_ms: u64, jitter: f64) -> Backoff {
        Backoff {
            schedule: Schedule::Exponential {
                min_ms,
                max_ms,
                jitter,
            },
            max_attempts: None,
            reset_after_ms: 5_000,
        }
    }

    /// The delay before attempt `attempt` (1-based).
    pub fn delay(&mut self, attempt: u32, rng: &mut dyn RandomSource) -> u64 {
        let attempt = attempt.max(1);
        let ms = match &mut self.schedule {
            Schedule::Exponential {
                min_ms,
                max_ms,
                jitter,
            } => {
                let min = (*min_ms).min(*max_ms);
                let shift = (attempt - 1).min(40);
                let ceiling = min.saturating_mul(1u64 << shift).min(*max_ms).max(min);
                let jitter = if jitter.is_finite() {
                    jitter.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let span = (ceiling - min) as f64 * jitter;
                let r = rng.next_f64().clamp(0.0, 1.0);
                ceiling - round(span * r)
            }
            Schedule::Table(table) => match table.get(attempt as usize - 1).or(table.last()) {
                Some(ms) => *ms,
                None => 0,
            },
            Schedule::Custom(f) => f(attempt),
        };
        ms.min(MAX_DELAY_MS)
    }

    /// The delay of the schedule's slowest step: `max_ms` (exponential), the table's last entry,
    /// or what a custom schedule gives for `attempt`. For a server that refused us.
    pub fn slowest(&mut self, attempt: u32, rng: &mut dyn RandomSource) -> u64 {
        let ms = match &self.schedule {
            Schedule::Exponential { min_ms, max_ms, .. } => (*max_ms).max(*min_ms),
            Schedule::Table(table) => table.iter().copied().max().unwrap_or(0),
            Schedule::Custom(_) => return self.delay(attempt, rng),
        };
        ms.min(MAX_DELAY_MS)
    }

    /// A short delay drawn uniformly from `[0, first step]`: a retry at once, spread out so that
    /// the clients of a restarted server do not all arrive in the same millisecond.
    pub fn soon(&mut self, rng: &mut dyn RandomSource) -> u64 {
        let first = match &self.schedule {
            Schedule::Exponential { min_ms, max_ms, .. } => (*min_ms).min(*max_ms),
            Schedule::Table(table) => table.first().copied().unwrap_or(0),
            Schedule::Custom(_) => return self.delay(1, rng),
        };
        round(first.min(MAX_DELAY_MS) as f64 * rng.next_f64().clamp(0.0, 1.0))
    }

    /// True when attempt `attempt` (1-based) is past the limit.
    pub fn exhausted(&self, attempt: u32) -> bool {
        matches!(self.max_attempts, Some(max) if attempt > max)
    }
}

/// `x` rounded to the nearest integer, halves away from zero, as `f64::round` (which needs the
/// standard library); for non-negative finite `x`, saturating at `u64::MAX`.
pub fn round(x: f64) -> u64 {
    let whole = x as u64;
    if x - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::round;

    #[test]
    fn round_is_f64_round_for_non_negative_numbers() {
        let xs = [
            0.0,
            0.4,
            0.5,
            0.49999999999999994,
            1.5,
            2.5,
            1_000.499,
            1_000.5,
            4_503_599_627_370_495.5,
            9_007_199_254_740_993.0,
            1e19,
        ];
        for x in xs {
            assert_eq!(round(x), x.round() as u64, "{x}");
        }
        assert_eq!(round(1e30), u64::MAX);
        assert_eq!(round(f64::MAX), u64::MAX);
    }
}
