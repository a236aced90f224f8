//! What the client does when a connection closes or fails to open, by close code: retry on the
//! schedule, retry soon, retry at the slowest step, or stop. The app may decide per code
//! (`reconnect.onClose`); otherwise [`default_action`] does.

use crate::prelude::*;

/// The next step after a connection closed (or an attempt to open one failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAction {
    /// The reconnect schedule as usual.
    Retry,
    /// At once, spread by a jitter of up to the schedule's first step (a server restart: it is
    /// back soon, and every client should not arrive in the same millisecond).
    Soon,
    /// Only at the schedule's slowest step (the server refused us; asking again quickly would
    /// be refused too, but a refreshed token may be accepted).
    Slow,
    /// Not at all: the socket goes `closed` until `connect()`.
    Stop,
}

impl CloseAction {
    /// `"retry"`, `"soon"`, `"slow"`, `"stop"` (what `reconnect.onClose` returns).
    pub fn parse(name: &str) -> Option<CloseAction> {
        match name {
            "retry" => Some(CloseAction::Retry),
            "soon" => Some(CloseAction::Soon),
            "slow" => Some(CloseAction::Slow),
            "stop" => Some(CloseAction::Stop),
            _ => None,
        }
    }
}

/// Whether a close code says the server refused who we are (RFC 6455's 1008 "policy violation",
/// and the 4401 / 4403 codes servers use for HTTP's 401 and 403, which a browser cannot see on a
/// refused upgrade).
pub fn is_unauthorized(code: u16) -> bool {
    matches!(code, 1008 | 4401 | 4403)
}

/// The built-in rules: unauthorized codes retry slowly; 1011 (server error), 1012 (service
/// restart) and 1013 (try again later) retry soon; everything else follows the schedule.
pub fn default_action(code: u16) -> CloseAction {
    match code {
        c if is_unauthorized(c) => CloseAction::Slow,
        1011..=1013 => CloseAction::Soon,
        _ => CloseAction::Retry,
    }
}

/// The app's rule, asked with the close code and reason; `None` from it means "the default".
pub type CloseRule = Box<dyn FnMut(u16, &str) -> Option<CloseAction>>;

/// The rules in force for one client.
#[derive(Default)]
pub struct ClosePolicy {
    rule: Option<CloseRule>,
}

impl ::core::fmt::Debug for ClosePolicy {
    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
        f.write_str(match self.rule {
            Some(_) => "ClosePolicy(custom)",
            None => "ClosePolicy(default)",
        })
    }
}

impl ClosePolicy {
    /// The app's rule first, the defaults where it has no answer.
    pub fn custom(rule: CloseRule) -> ClosePolicy {
        ClosePolicy { rule: Some(rule) }
    }

    pub fn action(&mut self, code: u16, reason: &str) -> CloseAction {
        self.rule
            .as_mut()
            .and_then(|rule| rule(code, reason))
            .unwrap_or_else(|| default_action(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_by_code() {
        assert_eq!(default_action(1000), CloseAction::Retry);
        assert_eq!(default_action(1006), CloseAction::Retry);
        assert_eq!(default_action(1008), CloseAction::Slow);
        assert_eq!(default_action(4401), CloseAction::Slow);
        assert_eq!(default_action(1012), CloseAction::Soon);
        assert_eq!(default_action(4000), CloseAction::Retry);
    }

    #[test]
    fn the_rule_wins_where_it_answers() {
        let mut p = ClosePolicy::custom(Box::new(|code, reason| {
            (code == 4000 && reason == "banned").then_some(CloseAction::Stop)
        }));
        assert_eq!(p.action(4000, "banned"), CloseAction::Stop);
        assert_eq!(p.action(4000, "other"), CloseAction::Retry);
        assert_eq!(p.action(4401, ""), CloseAction::Slow);
    }
}
