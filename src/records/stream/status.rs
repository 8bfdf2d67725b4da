//! The running counts of a stream split: printed on stderr when SIGUSR1
//! asks (`kill -USR1`, as with tcpdump; the split carries on), and, when
//! stderr is a terminal, a status line redrawn in place at most once a
//! second, within 80 columns, cleared at the end.

use crate::num::human;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// What a status line and a SIGUSR1 report say.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(super) struct Counts {
    /// Pieces begun: the finished ones and the one being written.
    pub(super) pieces: u64,
    pub(super) records: u64,
    /// Bytes of the stream read.
    pub(super) bytes: u64,
    /// Finished pieces removed by `--ring`.
    pub(super) dropped: u64,
}

pub(super) struct Status {
    name: String,
    /// Draw the status line (stderr is a terminal, messages are wanted).
    line: bool,
    shown: bool,
    drawn: Option<Instant>,
    /// SIGUSR1 asked for the counts.
    asked: bool,
    counts: Counts,
}

/// The longest status line: the cursor stays on an 80-column line.
const WIDTH: usize = 79;

impl Status {
    pub(super) fn new(name: &str) -> Status {
        Status {
            name: name.to_string(),
            line: std::io::stderr().is_terminal() && log::log_enabled!(log::Level::Info),
            shown: false,
            drawn: None,
            asked: false,
            counts: Counts::default(),
        }
    }

    /// SIGUSR1 asked for the counts.
    pub(super) fn ask(&mut self) {
        self.asked = true;
    }

    /// Are the counts wanted now (asked for, or the line is due)?
    pub(super) fn due(&self) -> bool {
        self.asked
            || (self.line
                && self
                    .drawn
                    .is_none_or(|t| t.elapsed() >= Duration::from_secs(1)))
    }

    /// Before the first piece (no line yet): the counts, if SIGUSR1 asked,
    /// with `bytes` read.
    pub(super) fn answer(&mut self, bytes: u64) {
        if std::mem::take(&mut self.asked) {
            self.counts.bytes = bytes;
            self.report(false);
        }
    }

    /// The counts now: reported if asked for, and on a terminal the line.
    pub(super) fn show(&mut self, c: Counts) {
        self.counts = c;
        if std::mem::take(&mut self.asked) {
            self.report(false);
        }
        if self.line {
            self.drawn = Some(Instant::now());
            let _ = write!(
                std::io::stderr(),
                "\r{}\x1b[K",
                render(&self.name, &c, WIDTH)
            );
            self.shown = true;
        }
    }

    /// SIGUSR1 asked: the counts on a line of their own (`waiting`: the
    /// FIFO has no writer yet).
    pub(super) fn report(&mut self, waiting: bool) {
        self.clear();
        let c = &self.counts;
        let _ = writeln!(
            std::io::stderr(),
            "mmkit: {}: {}{} pieces, {} records, {} bytes{}",
            self.name,
            if waiting {
                "waiting for a writer to open the FIFO; "
            } else {
                ""
            },
            c.pieces,
            c.records,
            c.bytes,
            dropped(c.dropped)
        );
    }

    /// Take the status line off the terminal.
    pub(super) fn clear(&mut self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
            self.shown = false;
        }
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        self.clear();
    }
}

fn dropped(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(", {n} removed by --ring")
    }
}

/// The status line: `NAME: P pieces, R records, SIZE`, at most `width`
/// characters (a long name loses its beginning, then all of it).
fn render(name: &str, c: &Counts, width: usize) -> String {
    let counts = format!(
        "{} pieces, {} records, {}{}",
        c.pieces,
        c.records,
        human(c.bytes),
        dropped(c.dropped)
    );
    let room = width.saturating_sub(counts.len() + 2);
    let n = name.chars().count();
    let mut s = if n <= room {
        format!("{name}: {counts}")
    } else if room >= 8 {
        let tail: String = name.chars().skip(n + 2 - room).collect();
        format!("..{tail}: {counts}")
    } else {
        counts
    };
    if s.chars().count() > width {
        s = s.chars().take(width).collect();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_the_counts_within_80_columns() {
        let c = Counts {
            pieces: 3,
            records: 1200,
            bytes: 5 << 20,
            dropped: 0,
        };
        assert_eq!(
            render("cap.pcap", &c, WIDTH),
            "cap.pcap: 3 pieces, 1200 records, 5.0 MiB"
        );
        let long = format!("{}tail-of-name", "é".repeat(200));
        let s = render(&long, &c, WIDTH);
        assert!(s.chars().count() <= WIDTH, "{s}");
        assert!(
            s.starts_with("..") && s.contains("tail-of-name: 3 pieces"),
            "{s}"
        );
        let max = Counts {
            pieces: u64::MAX,
            records: u64::MAX,
            bytes: u64::MAX,
            dropped: u64::MAX,
        };
        for name in ["x", long.as_str()] {
            let s = render(name, &max, WIDTH);
            assert!(s.len() <= WIDTH, "{} chars: {s}", s.len());
            assert!(s.starts_with("18446744073709551615 pieces"), "{s}");
        }
        let ring = Counts { dropped: 2, ..c };
        assert!(render("ff", &ring, WIDTH).ends_with(", 2 removed by --ring"));
    }
}
