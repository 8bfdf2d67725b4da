//! The clock that times a thread's own work (the samples of
//! `--access auto`).
//!
//! The thread's CPU clock is the right measure: it counts what the walk
//! costs, whatever else runs on the machine, and not the time the thread
//! sleeps. But on some kernels it only moves at scheduler ticks (the Debian
//! MIPS Malta kernel: sched_clock from jiffies, 4 ms steps), far too coarse
//! for a sample of a few milliseconds: such a clock made the mapping look
//! faster there while it took 1.5 × the time of pread. [`WorkClock::probe`]
//! finds out, and falls back to the monotonic clock less the time the
//! thread spent blocked in [`waiting`].

use std::cell::Cell;

/// A clock above this step (µs) is too coarse to time a sample.
const FINE_STEP_US: u64 = 100;
/// How long the probe waits for the thread CPU clock to move (µs).
const PROBE_US: u64 = 1000;

thread_local! {
    /// Monotonic µs this thread spent blocked in [`waiting`].
    static WAITED_US: Cell<u64> = const { Cell::new(0) };
}

/// Which clock times the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkClock {
    /// CPU time (user + system) of the calling thread.
    ThreadCpu,
    /// Monotonic time, less the time spent in [`waiting`].
    Monotonic,
}

/// A clock's reading in nanoseconds (None if it cannot be read).
fn ns(id: nix::time::ClockId) -> Option<u64> {
    let t = nix::time::clock_gettime(id).ok()?;
    Some(
        (t.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec() as u64),
    )
}

fn thread_cpu_ns() -> Option<u64> {
    ns(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
}

fn monotonic_us() -> u64 {
    ns(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |n| n / 1000)
}

impl WorkClock {
    /// Spin until the thread CPU clock moves (at most [`PROBE_US`]); keep it
    /// when it moved by at most [`FINE_STEP_US`]. Returns the clock and the
    /// step seen in µs (None: it did not move, or cannot be read).
    pub(crate) fn probe() -> (WorkClock, Option<u64>) {
        let (Some(t0), m0) = (thread_cpu_ns(), monotonic_us()) else {
            return (WorkClock::Monotonic, None);
        };
        loop {
            match thread_cpu_ns() {
                Some(t) if t != t0 => {
                    let step = t.saturating_sub(t0) / 1000;
                    let clock = if step <= FINE_STEP_US {
                        WorkClock::ThreadCpu
                    } else {
                        WorkClock::Monotonic
                    };
                    return (clock, Some(step));
                }
                Some(_) if monotonic_us().saturating_sub(m0) <= PROBE_US => {}
                _ => return (WorkClock::Monotonic, None),
            }
        }
    }

    /// Now, in µs (only differences mean something).
    pub(crate) fn now_us(self) -> u64 {
        match self {
            WorkClock::ThreadCpu => thread_cpu_ns().map_or(0, |n| n / 1000),
            WorkClock::Monotonic => monotonic_us().saturating_sub(WAITED_US.with(Cell::get)),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            WorkClock::ThreadCpu => "thread CPU time",
            WorkClock::Monotonic => "monotonic time less waits",
        }
    }
}

/// Run `f`, a blocking wait of this thread (handing a piece to the writer),
/// so that [`WorkClock::Monotonic`] does not count it as work.
pub(crate) fn waiting<T>(f: impl FnOnce() -> T) -> T {
    let t0 = monotonic_us();
    let r = f();
    let waited = monotonic_us().saturating_sub(t0);
    WAITED_US.with(|w| w.set(w.get().saturating_add(waited)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_not_work() {
        let c = WorkClock::Monotonic;
        let t0 = c.now_us();
        waiting(|| std::thread::sleep(std::time::Duration::from_millis(30)));
        let spent = c.now_us().saturating_sub(t0);
        assert!(spent < 20_000, "{spent} µs counted for a 30 ms wait");
        let t1 = c.now_us();
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(c.now_us() - t1 >= 30_000, "an unmarked sleep counts");
    }

    #[test]
    fn the_host_thread_clock_is_fine() {
        // Linux on x86_64 with a TSC-backed sched_clock: nanoseconds.
        if cfg!(target_arch = "x86_64") {
            let (c, step) = WorkClock::probe();
            assert_eq!(c, WorkClock::ThreadCpu, "step {step:?}");
        }
    }
}
