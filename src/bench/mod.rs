//! `mmkit bench`: the read-vs-mmap experiment of the original notes,
//! measured honestly on the machine it runs on.
//!
//! Three parts, each printed as a table as soon as it is measured:
//! 1. **notes**: the notes' program (N integers in a file; read → +1 → write
//!    back, once with read()/write() and once through a MAP_SHARED mapping
//!    sized with ftruncate, msync before munmap), several runs, min/median
//!    and the ratio;
//! 2. **sweep**: the same for file sizes from `--min` to `--max` (×4 steps),
//!    showing where mapping starts to pay off, with page faults per pass;
//! 3. **scan**: a sequential read of a file, read() with a large buffer
//!    against a mapped walk, with and without madvise hints, summing every
//!    integer (every byte is used);
//! 4. **walk**: the same, touching one integer per KiB (what a record walk
//!    such as `check` does: one header per record).
//!
//! Runs are warm-cache (the page cache is not dropped; `--cold` evicts the
//! file with posix_fadvise before each run where the filesystem allows it).
//! Read and mmap samples alternate (ABBA) so drift hits both equally. Every
//! result is checked (the integers must have been incremented exactly once
//! per pass; the scans must return the expected sum), so a broken method
//! cannot look fast. Scratch files are removed at the end, on error and on
//! SIGINT/SIGTERM.

mod exp;
mod report;
mod scratch;

use crate::decimal::Frac;
use crate::error::{Error, Kind, Result};
use crate::num::human;
use exp::Hint;
use report::{Report, Stats};
use scratch::Scratch;
use std::path::PathBuf;
use std::time::Instant;

/// Which parts to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Parts {
    pub(crate) notes: bool,
    pub(crate) sweep: bool,
    pub(crate) scan: bool,
    pub(crate) walk: bool,
}

/// The walk part touches one integer every this many bytes (a record walk
/// reads one header per record; pcap records average ~800 bytes).
pub(crate) const WALK_STRIDE: usize = 1024;

/// Everything `mmkit bench` needs, validated by the CLI layer.
#[derive(Clone, Debug)]
pub(crate) struct Opts {
    /// Directory for the scratch file.
    pub(crate) dir: PathBuf,
    /// Number of integers in the notes' experiment.
    pub(crate) ints: u64,
    /// Smallest and largest sweep size in bytes.
    pub(crate) min: u64,
    pub(crate) max: u64,
    /// Size of the sequential-scan file.
    pub(crate) scan_size: u64,
    /// Timed runs per method (after one warm-up).
    pub(crate) runs: usize,
    /// read() buffer in bytes (a multiple of 4).
    pub(crate) buf: usize,
    /// Mapping window in bytes (a multiple of the page size).
    pub(crate) window: usize,
    /// Minimum bytes of work per timed sample (small files are repeated).
    pub(crate) sample_bytes: u64,
    /// fdatasync / msync(MS_SYNC) in the increment experiment.
    pub(crate) sync: bool,
    /// Evict the file from the page cache before each sample.
    pub(crate) cold: bool,
    pub(crate) parts: Parts,
    /// Also write the results as CSV here.
    pub(crate) csv: Option<PathBuf>,
}

/// `min(n, cap)` as a usize, without truncating `n` on 32-bit targets.
pub(crate) fn clamp(n: u64, cap: usize) -> usize {
    if n < cap as u64 { n as usize } else { cap }
}

/// Upper bound of repetitions of a tiny operation within one sample.
const MAX_REPS: u64 = 4096;

/// Samples of one method: wall-clock and CPU (user + system) picoseconds per
/// pass, and the page faults of all passes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples {
    wall: Vec<u64>,
    cpu: Vec<u64>,
    faults: u64,
    passes: u64,
}

impl Samples {
    fn push(&mut self, s: Sample) {
        self.wall.push(s.wall);
        self.cpu.push(s.cpu);
        self.faults = self.faults.saturating_add(s.faults);
        self.passes = self.passes.saturating_add(s.reps);
    }

    fn done(&self) -> Measured {
        Measured {
            wall: Stats::of(&self.wall),
            cpu: Stats::of(&self.cpu),
            faults: Frac::of(self.faults, self.passes.max(1)),
        }
    }
}

/// Summary of one method: wall and CPU time statistics, faults per pass.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Measured {
    pub(crate) wall: Stats,
    /// CPU time: less disturbed than wall time on a busy machine, but blind
    /// to waiting for a disk.
    pub(crate) cpu: Stats,
    /// Page faults per pass.
    pub(crate) faults: Frac,
}

/// One timed comparison of the increment experiment.
#[derive(Clone, Debug)]
pub(crate) struct IncResult {
    pub(crate) size: u64,
    pub(crate) reps: u64,
    pub(crate) read: Measured,
    pub(crate) mmap: Measured,
}

impl IncResult {
    /// read time / mmap time (wall-clock medians): above 1, mapping is faster.
    pub(crate) fn ratio(&self) -> Frac {
        Frac::of(self.read.wall.median, self.mmap.wall.median)
    }
    /// The same for CPU time.
    pub(crate) fn cpu_ratio(&self) -> Frac {
        Frac::of(self.read.cpu.median, self.mmap.cpu.median)
    }
}

/// One method of the sequential scan.
#[derive(Clone, Debug)]
pub(crate) struct ScanResult {
    pub(crate) method: String,
    pub(crate) m: Measured,
}

/// One timed sample: picoseconds per call, faults of all `reps` calls.
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: u64,
    cpu: u64,
    faults: u64,
    reps: u64,
}

/// Time `reps` calls of `f`.
fn sample(reps: u64, mut f: impl FnMut() -> Result<()>) -> Result<Sample> {
    let (c0, f0) = crate::sys::cpu_and_faults();
    let t = Instant::now();
    for _ in 0..reps {
        f()?;
    }
    let wall_ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let (c1, f1) = crate::sys::cpu_and_faults();
    // (u64 picoseconds: 213 days)
    let per_call = |ps: u64| ps / reps.max(1);
    Ok(Sample {
        wall: per_call(wall_ns.saturating_mul(1000)),
        cpu: per_call(c1.saturating_sub(c0).saturating_mul(1_000_000)),
        faults: f1.saturating_sub(f0),
        reps,
    })
}

fn reps_for(o: &Opts, size: u64) -> u64 {
    if o.cold {
        1
    } else {
        o.sample_bytes.div_ceil(size.max(1)).clamp(1, MAX_REPS)
    }
}

/// Increment every integer of a `size`-byte file, read()/write() against
/// mmap; checks the file afterwards.
fn inc_compare(o: &Opts, s: &Scratch, size: u64) -> Result<IncResult> {
    s.fill(size)?;
    let f = s.open_rw()?;
    let path = s.path();
    let mut buf = vec![0u8; clamp(size, o.buf).max(4)];
    let reps = reps_for(o, size);
    let mut passes: u64 = 0;
    // Warm-up: one pass of each, untimed.
    exp::inc_read(&f, path, size, &mut buf, o.sync)?;
    exp::inc_mmap(&f, path, size, o.window, o.sync)?;
    passes += 2;
    let (mut rs, mut ms) = (Samples::default(), Samples::default());
    for run in 0..o.runs {
        for k in 0..2 {
            // ABBA order: read first on even runs, mmap first on odd ones.
            let do_read = (run % 2 == 0) == (k == 0);
            if o.cold {
                exp::evict(&f, path)?;
            }
            if do_read {
                rs.push(sample(reps, || {
                    exp::inc_read(&f, path, size, &mut buf, o.sync)
                })?);
            } else {
                ms.push(sample(reps, || {
                    exp::inc_mmap(&f, path, size, o.window, o.sync)
                })?);
            }
            passes += reps;
        }
    }
    drop(f);
    let add = (passes % (1u64 << 32)) as u32;
    if let Some(off) = s.verify(size, add)? {
        return Err(Error::new(
            Kind::Mismatch,
            format!("benchmark self-check failed: after {passes} increment passes the integer at this offset is wrong"),
        )
        .with_path(path)
        .at(off));
    }
    Ok(IncResult {
        size,
        reps,
        read: rs.done(),
        mmap: ms.done(),
    })
}

/// Sequential scan of a `size`-byte file by every method, summing every
/// `stride`-th integer; checks the sums.
fn scan_compare(o: &Opts, s: &Scratch, size: u64, stride: usize) -> Result<Vec<ScanResult>> {
    s.fill(size)?;
    let path = s.path();
    let want = exp::expected_stride_sum(size, stride);
    // Whole strides per buffer, so every buffer starts on a stride.
    let blen = clamp(size, o.buf).max(stride) / stride * stride;
    let mut buf = vec![0u8; blen];
    let reps = reps_for(o, size);
    let nmethods = 1 + Hint::ALL.len();
    let mut samples: Vec<Samples> = vec![Samples::default(); nmethods];
    let f = s.open_rw()?;
    for run in 0..=o.runs {
        for i in 0..nmethods {
            // Rotate the starting method each run against drift.
            let m = (i + run) % nmethods;
            if o.cold {
                exp::evict(&f, path)?;
            }
            let mut got = 0u32;
            let t = sample(reps, || {
                got = if m == 0 {
                    exp::scan_read(path, size, &mut buf, stride)?
                } else {
                    exp::scan_mmap(path, size, o.window, Hint::ALL[m - 1], stride)?
                };
                Ok(())
            })?;
            if got != want {
                return Err(Error::new(
                    Kind::Mismatch,
                    format!(
                        "benchmark self-check failed: scan method {m} summed {got}, expected {want}"
                    ),
                )
                .with_path(path));
            }
            if run > 0 {
                // Run 0 is the warm-up.
                samples[m].push(t);
            }
        }
    }
    let mut out = Vec::new();
    for (m, t) in samples.iter().enumerate() {
        let method = if m == 0 {
            format!("read {} buf", human(buf.len() as u64))
        } else {
            Hint::ALL[m - 1].label().to_string()
        };
        out.push(ScanResult {
            method,
            m: t.done(),
        });
    }
    Ok(out)
}

/// The sweep sizes: `min`, 4×`min`, … up to `max` (and `max` itself).
pub(crate) fn sweep_sizes(min: u64, max: u64) -> Vec<u64> {
    let mut v = Vec::new();
    let mut s = min.max(4) / 4 * 4;
    while s < max {
        v.push(s);
        match s.checked_mul(4) {
            Some(n) => s = n,
            None => break,
        }
    }
    let top = max / 4 * 4;
    if top >= 4 && v.last() != Some(&top) {
        v.push(top);
    }
    v
}

/// Run the selected parts and write the report into `out`.
pub(crate) fn run(o: &Opts, out: &mut dyn std::io::Write) -> Result<()> {
    if o.runs == 0 {
        return Err(Error::usage("--runs must be at least 1"));
    }
    let info = scratch::dir_info(&o.dir);
    let mut rep = Report::new(o, &info, out)?;
    rep.header();
    // Keep a margin: never use more than 80% of the free space, nor (on a
    // RAM-backed filesystem) more than half of the RAM.
    let ram_backed = info.fs == "tmpfs" || info.fs == "ramfs";
    let mut limit = info.avail.map(|a| a / 5 * 4).unwrap_or(u64::MAX);
    if ram_backed && let Some(m) = crate::sys::phys_mem() {
        limit = limit.min(m / 2);
    }
    let fits = |size: u64| size <= limit;
    let scratch = Scratch::create(&o.dir, 0)?;

    if o.parts.notes {
        let size = o.ints.saturating_mul(4);
        if fits(size) {
            let r = inc_compare(o, &scratch, size)?;
            rep.notes(&r);
        } else {
            rep.skipped("notes", size, limit);
        }
    }
    if o.parts.sweep {
        rep.sweep_header();
        let mut rows = Vec::new();
        for size in sweep_sizes(o.min, o.max) {
            if !fits(size) {
                rep.skipped("sweep", size, limit);
                continue;
            }
            let r = inc_compare(o, &scratch, size)?;
            rep.sweep_row(&r);
            rows.push(r);
            if rep.failed() {
                break;
            }
        }
        rep.sweep_summary(&rows);
    }
    if rep.failed() {
        return rep.finish();
    }
    for (on, part, stride) in [
        (o.parts.scan, "scan", 4),
        (o.parts.walk, "walk", WALK_STRIDE),
    ] {
        if !on {
            continue;
        }
        let size = o.scan_size / 4 * 4;
        if size == 0 {
            return Err(Error::usage("--scan-size must be at least 4 bytes"));
        }
        if fits(size) {
            let rows = scan_compare(o, &scratch, size, stride)?;
            rep.scan(part, size, stride, &rows);
        } else {
            rep.skipped(part, size, limit);
        }
    }
    drop(scratch);
    rep.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_never_truncates() {
        assert_eq!(clamp((4u64 << 30) + 100, 1 << 20), 1 << 20);
        assert_eq!(clamp(100, 1 << 20), 100);
    }

    #[test]
    fn sweep_sizes_step_by_four_and_end_at_max() {
        assert_eq!(sweep_sizes(4096, 65536), vec![4096, 16384, 65536]);
        assert_eq!(
            sweep_sizes(4096, 100_000),
            vec![4096, 16384, 65536, 100_000]
        );
        assert_eq!(sweep_sizes(4096, 4096), vec![4096]);
        assert_eq!(sweep_sizes(4096, 1 << 30).len(), 10);
        assert_eq!(sweep_sizes(4096, 1 << 30).last(), Some(&(1 << 30)));
    }
}
