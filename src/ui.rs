//! What the user sees besides the results: a progress line on stderr, drawn
//! only when stderr is a terminal and informational messages are wanted.

use crate::num::human;
use std::io::IsTerminal;
use std::time::Instant;

/// A progress line on stderr.
pub(crate) struct Progress {
    what: &'static str,
    total: u64,
    enabled: bool,
    last: Instant,
    shown: bool,
}

impl Progress {
    pub(crate) fn new(what: &'static str, total: u64) -> Progress {
        Progress {
            what,
            total,
            enabled: std::io::stderr().is_terminal() && log::log_enabled!(log::Level::Info),
            last: Instant::now(),
            shown: false,
        }
    }

    pub(crate) fn update(&mut self, done: u64, extra: &str) {
        if !self.enabled || self.last.elapsed().as_millis() < 250 {
            return;
        }
        self.last = Instant::now();
        let pct = (done.saturating_mul(100))
            .checked_div(self.total)
            .unwrap_or(100);
        eprint!(
            "\r{}: {pct:3}% ({} of {}) {extra}\x1b[K",
            self.what,
            human(done),
            human(self.total)
        );
        self.shown = true;
    }

    pub(crate) fn finish(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
