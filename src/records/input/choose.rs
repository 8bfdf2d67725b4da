//! `--access auto`: choose between the mapping and pread by measuring both
//! on the input itself, per run.
//!
//! Which path walks records faster depends on the CPU, the kernel and the
//! filesystem (a mapping pays page-table work per page, pread pays a copy
//! of every byte), so no rule fixed in advance is right everywhere. The
//! input is cut into spans (1/256 of it, 256 KiB–4 MiB). The first four
//! spans are walked map, read, read, map (drift hits both alike); the path
//! that walked more input bytes per microsecond of work wins and is used
//! from then on. Work is the walking thread's CPU time, not wall time: it is
//! what the walk itself costs, whatever else runs on the machine — unless
//! that clock is too coarse here, then monotonic time less the thread's
//! waits ([`crate::sys::clock`]).
//!
//! The loser is sampled again now and then: after `interval` spans of the
//! winner it gets one span, compared with the winner's spans on either side.
//! The interval starts at 8 spans times the loser's handicap (a loser that
//! took 2.5 × as long waits 20 spans) and after every sample grows twice
//! that much again, up to 128 spans, so the slower path walks a few percent
//! of the input at most, the fewer the more it costs. A re-sample decides
//! on the rates of all sample rounds since the last change of the input,
//! each earlier round weighing 7/8 as much as the next (one span's rate
//! jumps 2–3 × on a shared machine, and one unlucky round used to switch
//! to the slower way for the next 16–128 spans), and switches only for a
//! lead of more than 5%. Two winner's spans
//! in a row whose rate moved threefold (dense records turning sparse, say)
//! trigger a new sample at once; one alone is noise. Large sparse records, where the mapping
//! touches a fraction of the pages, cost a sample only a few records of
//! pread. Whatever is chosen, the bytes read are the same.

use crate::sys::clock::WorkClock;
use std::collections::VecDeque;

/// One of the two ways to reach the input's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Way {
    Map,
    Read,
}

impl Way {
    fn other(self) -> Way {
        match self {
            Way::Map => Way::Read,
            Way::Read => Way::Map,
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            Way::Map => "mmap",
            Way::Read => "read",
        }
    }
}

/// Spans of the winner between two samples of the loser, at first...
const BASE_INTERVAL: u32 = 8;
/// ...and at most (doubling each time the loser loses again).
const MAX_INTERVAL: u32 = 128;
/// Spans per input (the span is clamped to [MIN_SPAN, MAX_SPAN]).
const SPANS: u64 = 256;
const MIN_SPAN: u64 = 256 << 10;
const MAX_SPAN: u64 = 4 << 20;
/// A re-sample switches only when the loser is this much faster, in
/// percent (noise on a shared machine must not make the walk flip-flop).
const HYSTERESIS_PCT: u64 = 105;

/// The measuring state of one input walked with `--access auto`.
pub(super) struct Chooser {
    /// What times the spans.
    pub(super) clock: WorkClock,
    /// Input bytes per span.
    span: u64,
    /// Where the current span began and its thread CPU time then (µs);
    /// None before the first access.
    from: Option<(u64, u64)>,
    /// Offset at which the current span ends.
    pub(super) end: u64,
    cur: Way,
    best: Way,
    /// Spans still to walk in the current sample round, in order.
    plan: VecDeque<Way>,
    /// Bytes and CPU µs per way in the current round.
    acc: [(u64, u64); 2],
    /// Bytes and CPU µs per way over the rounds so far, each earlier round
    /// weighing 7/8 as much as the next (a re-sample decides on these);
    /// reset by a change of the input. At most 8 rounds' worth: no overflow.
    hist: [(u64, u64); 2],
    /// The current round follows a change of the input.
    fresh: bool,
    /// A round is under way (the decision comes when `plan` runs out).
    sampling: bool,
    /// This round is the first one.
    first: bool,
    /// Winner's spans left before the next sample, and the current interval.
    left: u32,
    interval: u32,
    /// The winner's rate (bytes per CPU-second) when it was chosen.
    reference: u64,
    /// The last winner's span moved threefold from `reference` (one such
    /// span is noise — a page-table release landing in it, a preempted
    /// clock — two in a row are a change of the input).
    moved_last: bool,
    /// Bytes walked through each way (for the summary).
    total: [u64; 2],
    /// Sample rounds decided.
    pub(super) rounds: u32,
}

/// A round's outcome, for the log.
pub(super) struct Verdict {
    pub(super) best: Way,
    /// MiB per second of work of each way in this round.
    pub(super) map_rate: u64,
    pub(super) read_rate: u64,
    pub(super) first: bool,
    pub(super) switched: bool,
}

/// Bytes per second of work of (bytes, µs). Integers only: no floating
/// point in mmkit (on the soft-float MIPS builds it costs code and time).
/// A round's bytes are a few spans of at most 4 MiB: no overflow.
fn rate(acc: (u64, u64)) -> u64 {
    acc.0.saturating_mul(1_000_000) / acc.1.max(1)
}

fn mib_per_s(r: u64) -> u64 {
    r >> 20
}

impl Chooser {
    /// For an input of `len` bytes; `span` overrides the span length (tests).
    pub(super) fn new(len: u64, span: Option<u64>) -> Chooser {
        let span = span
            .unwrap_or((len / SPANS).clamp(MIN_SPAN, MAX_SPAN))
            .max(1);
        let (clock, step) = WorkClock::probe();
        if clock != WorkClock::ThreadCpu {
            let step = step.map_or("does not move in 1 ms".into(), |s| {
                format!("moves in steps of {s} µs")
            });
            log::debug!(
                "--access auto: the thread CPU clock {step} here: samples are timed by the monotonic clock, less waits"
            );
        }
        Chooser {
            clock,
            span,
            from: None,
            end: 0,
            cur: Way::Map,
            best: Way::Map,
            plan: VecDeque::from([Way::Read, Way::Read, Way::Map]),
            acc: [(0, 0); 2],
            hist: [(0, 0); 2],
            fresh: true,
            sampling: true,
            first: true,
            left: 0,
            interval: BASE_INTERVAL,
            reference: 0,
            moved_last: false,
            total: [0; 2],
            rounds: 0,
        }
    }

    /// The way the current span uses.
    pub(super) fn way(&self) -> Way {
        self.cur
    }

    /// Input bytes per span.
    pub(super) fn span(&self) -> u64 {
        self.span
    }

    /// `us` of work spent on behalf of `way` outside its spans (unmapping
    /// the window when the walk leaves the mapping): charged to that way
    /// while a round is measuring, and taken out of the current span.
    pub(super) fn charge(&mut self, way: Way, us: u64) {
        if self.sampling {
            self.acc[way.idx()].1 += us;
        }
        if let Some((off, t0)) = self.from {
            self.from = Some((off, t0.saturating_add(us)));
        }
    }

    /// Input bytes walked through each way so far: (mmap, read).
    pub(super) fn totals(&self) -> (u64, u64) {
        (self.total[0], self.total[1])
    }

    /// An access at `off` reached the end of the span (`off >= self.end`),
    /// at thread CPU time `now` (µs): account the span and pick the way for
    /// the next one. Returns a verdict when a sample round was decided.
    pub(super) fn tick(&mut self, off: u64, now: u64) -> Option<Verdict> {
        let Some((from, t0)) = self.from else {
            self.restart(off, now);
            return None;
        };
        if off < from {
            // Moved backwards (a re-read): start the span again.
            self.restart(off, now);
            return None;
        }
        let span = (off - from, now.saturating_sub(t0));
        let ran = self.cur;
        self.total[ran.idx()] += span.0;
        self.restart(off, now);
        let mut verdict = None;
        if self.sampling {
            let a = &mut self.acc[ran.idx()];
            a.0 += span.0;
            a.1 += span.1;
            if let Some(w) = self.plan.pop_front() {
                self.cur = w;
                return None;
            }
            verdict = Some(self.decide());
        } else {
            let r = rate(span);
            let off_rate =
                r > self.reference.saturating_mul(3) || r.saturating_mul(3) < self.reference;
            let moved = off_rate && self.moved_last;
            self.moved_last = off_rate && !moved;
            if moved {
                self.interval = BASE_INTERVAL;
            }
            self.left = self.left.saturating_sub(1);
            if moved || self.left == 0 {
                // Sample the loser between this span and the next winner's.
                self.sampling = true;
                self.fresh = moved;
                self.acc = [(0, 0); 2];
                self.acc[self.best.idx()] = span;
                self.cur = self.best.other();
                self.plan = VecDeque::from([self.best]);
                return None;
            }
        }
        self.cur = self.best;
        verdict
    }

    fn restart(&mut self, off: u64, now: u64) {
        self.from = Some((off, now));
        self.end = off.saturating_add(self.span);
    }

    fn decide(&mut self) -> Verdict {
        for (h, a) in self.hist.iter_mut().zip(self.acc) {
            *h = if self.fresh {
                a
            } else {
                (h.0 - h.0 / 8 + a.0, h.1 - h.1 / 8 + a.1)
            };
        }
        let (m, r) = (rate(self.hist[0]), rate(self.hist[1]));
        let margin = if self.first { 100 } else { HYSTERESIS_PCT };
        // `a` beats `b` by more than the margin.
        let beats = |a: u64, b: u64| a.saturating_mul(100) > b.saturating_mul(margin);
        let best = match self.best {
            _ if self.first => {
                if r > m {
                    Way::Read
                } else {
                    Way::Map
                }
            }
            Way::Map if beats(r, m) => Way::Read,
            Way::Read if beats(m, r) => Way::Map,
            b => b,
        };
        let switched = best != self.best;
        // The interval grows with every round, switch or not: a choice
        // flipped by noise must not bring back frequent sampling. Only a
        // real change of the input (`moved` in `tick`) resets it. It grows
        // by the loser's handicap too: sampling a path that takes 3 × as
        // long costs 3 × as much.
        let (won, lost) = if best == Way::Read { (r, m) } else { (m, r) };
        let handicap = (won.saturating_mul(100) / lost.max(1)).clamp(100, 1600);
        let base = if self.first {
            BASE_INTERVAL
        } else {
            self.interval * 2
        };
        self.interval = (u64::from(base) * handicap / 100).min(u64::from(MAX_INTERVAL)) as u32;
        let v = Verdict {
            best,
            map_rate: mib_per_s(m),
            read_rate: mib_per_s(r),
            first: self.first,
            switched,
        };
        self.best = best;
        self.reference = if best == Way::Read { r } else { m };
        self.left = self.interval;
        self.moved_last = false;
        self.sampling = false;
        self.first = false;
        self.rounds += 1;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walk `n` spans where mmap costs `map` µs and read `read` µs per span;
    /// returns the ways used, span by span.
    fn run(c: &mut Chooser, n: usize, map: u64, read: u64, now: &mut u64) -> Vec<Way> {
        run_with(c, n, now, |w| if w == Way::Map { map } else { read })
    }

    /// [`run`] with each span's cost from `cost(way)`.
    fn run_with(
        c: &mut Chooser,
        n: usize,
        now: &mut u64,
        mut cost: impl FnMut(Way) -> u64,
    ) -> Vec<Way> {
        let mut ways = Vec::new();
        let mut off = c.end - c.span;
        for _ in 0..n {
            let w = c.way();
            ways.push(w);
            *now += cost(w);
            off += c.span;
            c.tick(off, *now);
        }
        ways
    }

    #[test]
    fn picks_the_faster_way_and_samples_the_loser_rarely() {
        let mut c = Chooser::new(1 << 30, Some(100));
        let mut now = 0;
        c.tick(0, now);
        // read twice as fast.
        let ways = run(&mut c, 300, 20, 10, &mut now);
        assert_eq!(&ways[..4], &[Way::Map, Way::Read, Way::Read, Way::Map]);
        assert_eq!(c.best, Way::Read);
        let maps = ways[4..].iter().filter(|&&w| w == Way::Map).count();
        // Resamples after 8, 16, 32, 64, 128 winner spans.
        assert!(maps <= 5, "{maps} spans of the loser");
        assert!(maps >= 3, "{maps}: the loser is still sampled");
    }

    /// The mapping is the better way on average (104 µs a span against
    /// read's 110), but every seventh of its spans is slowed to 250 µs (a
    /// preemption, another job's burst): a re-sample must not switch on the
    /// one unlucky round, as it did when each round decided on its own
    /// spans alone.
    #[test]
    fn one_unlucky_round_does_not_switch() {
        let mut c = Chooser::new(1 << 30, Some(100));
        let mut now = 0u64;
        c.tick(0, now);
        let mut maps = 0u64;
        let ways = run_with(&mut c, 2000, &mut now, |w| match w {
            Way::Map => {
                maps += 1;
                if maps.is_multiple_of(7) { 250 } else { 80 }
            }
            Way::Read => 110,
        });
        let reads = ways.iter().filter(|&&w| w == Way::Read).count();
        assert_eq!(c.best, Way::Map);
        assert!(reads < 40, "{reads} of 2000 spans through read");
    }

    #[test]
    fn a_costly_loser_is_sampled_less() {
        // 256 spans; the loser takes 1.2 × or 3 × as long.
        let loser_spans = |slow: u64| {
            let mut c = Chooser::new(1 << 30, Some(100));
            let mut now = 0;
            c.tick(0, now);
            let ways = run(&mut c, 256, 10 * slow, 100, &mut now);
            assert_eq!(c.best, Way::Read);
            ways.iter().filter(|&&w| w == Way::Map).count()
        };
        let (near, far) = (loser_spans(12), loser_spans(30));
        assert!(far < near, "loser spans: {far} at 3 ×, {near} at 1.2 ×");
        assert!(far <= 4, "{far}");
    }

    #[test]
    fn one_odd_span_is_noise_two_are_a_change() {
        let mut c = Chooser::new(1 << 30, Some(100));
        let mut now = 0;
        c.tick(0, now);
        run(&mut c, 12, 20, 10, &mut now);
        assert_eq!((c.best, c.sampling), (Way::Read, false));
        c.left = 50;
        // One read span four times as slow (a release, a preemption)...
        run(&mut c, 1, 20, 40, &mut now);
        let ways = run(&mut c, 3, 20, 10, &mut now);
        assert_eq!(ways, [Way::Read; 3], "no sample for one odd span");
        // ...but two in a row are a change: sample the mapping at once.
        run(&mut c, 2, 20, 40, &mut now);
        assert_eq!(c.way(), Way::Map);
    }

    #[test]
    fn follows_a_change_of_the_input() {
        let mut c = Chooser::new(1 << 30, Some(100));
        let mut now = 0;
        c.tick(0, now);
        run(&mut c, 40, 20, 10, &mut now);
        assert_eq!(c.best, Way::Read);
        // Records turn sparse: the mapping becomes far cheaper.
        let ways = run(&mut c, 40, 1, 2, &mut now);
        assert_eq!(c.best, Way::Map);
        // After the switch, read (now the loser) is sampled at most once.
        let reads = ways[10..].iter().filter(|&&w| w == Way::Read).count();
        assert!(reads <= 1, "{ways:?}");
        assert_eq!(c.totals().0 + c.totals().1, 80 * 100);
    }
}
