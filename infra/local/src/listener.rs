//! The accept loop's defences: a failing `accept` (out of file descriptors,
//! out of memory) pauses the loop with a growing back-off instead of spinning,
//! and repeated failures are logged once per interval with a count.

use std::io;
use std::time::{Duration, Instant};

use crate::limits::{ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, REPEAT_LOG_INTERVAL};

/// Whether a failed `accept` concerns only the connection being accepted (the
/// peer reset it before it was taken): the next `accept` can go at once.
pub(crate) fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The pause after each failed `accept` in a row: doubling from
/// [`ACCEPT_BACKOFF_MIN`] to [`ACCEPT_BACKOFF_MAX`].
#[derive(Default)]
pub(crate) struct Backoff {
    next: Option<Duration>,
}

impl Backoff {
    /// The pause after one more failure.
    pub(crate) fn fail(&mut self) -> Duration {
        let pause = self.next.unwrap_or(ACCEPT_BACKOFF_MIN);
        self.next = Some((pause * 2).min(ACCEPT_BACKOFF_MAX));
        pause
    }

    /// After a success.
    pub(crate) fn reset(&mut self) {
        self.next = None;
    }
}

/// One log line per [`REPEAT_LOG_INTERVAL`] for an event that can repeat
/// thousands of times a second.
pub(crate) struct RepeatLog {
    what: &'static str,
    last: Option<Instant>,
    unlogged: u64,
}

impl RepeatLog {
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            last: None,
            unlogged: 0,
        }
    }

    /// Counts one occurrence; logs it (with those not yet logged) if the
    /// interval since the last line has passed.
    pub(crate) fn record(&mut self, detail: &dyn std::fmt::Display) {
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < REPEAT_LOG_INTERVAL)
        {
            return;
        }
        tracing::warn!(
            count = self.unlogged,
            interval_s = REPEAT_LOG_INTERVAL.as_secs(),
            detail = %detail,
            "{}", self.what
        );
        self.unlogged = 0;
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling_and_resets() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.fail(), ACCEPT_BACKOFF_MIN);
        assert_eq!(backoff.fail(), ACCEPT_BACKOFF_MIN * 2);
        for _ in 0..20 {
            backoff.fail();
        }
        assert_eq!(backoff.fail(), ACCEPT_BACKOFF_MAX);
        backoff.reset();
        assert_eq!(backoff.fail(), ACCEPT_BACKOFF_MIN);
    }

    #[test]
    fn a_repeated_event_is_logged_once_per_interval() {
        let mut log = RepeatLog::new("accept failed");
        log.record(&"first");
        assert_eq!(log.unlogged, 0, "the first occurrence is logged at once");
        for _ in 0..1000 {
            log.record(&"again");
        }
        assert_eq!(log.unlogged, 1000, "the rest wait for the interval");
    }
}
