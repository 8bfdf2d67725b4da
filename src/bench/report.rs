//! Printing `mmkit bench` results: tables on stdout as they are measured,
//! and optionally a CSV file with one row per (part, size, method).

use super::scratch::DirInfo;
use super::{IncResult, Measured, Opts, ScanResult};
use crate::decimal::Frac;
use crate::error::{Context, Error, Result, ResultExt};
use crate::num::human;
use std::io::Write;
use std::path::PathBuf;

/// Min and median of a set of timings, in picoseconds (0 for no timings).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stats {
    pub(crate) min: u64,
    pub(crate) median: u64,
    pub(crate) n: usize,
}

impl Stats {
    pub(crate) fn of(v: &[u64]) -> Stats {
        let mut s = v.to_vec();
        s.sort();
        let n = s.len();
        let median = match n {
            0 => 0,
            _ if n % 2 == 1 => s[n / 2],
            _ => s[n / 2 - 1].midpoint(s[n / 2]),
        };
        Stats {
            min: s.first().copied().unwrap_or(0),
            median,
            n,
        }
    }
}

/// Picoseconds per second.
const PS: u64 = 1_000_000_000_000;

/// "12.3 us", "4.56 ms", "1.234 s" (from picoseconds).
pub(crate) fn dur(ps: u64) -> String {
    if ps < PS / 1000 {
        format!("{:.1} us", Frac::of(ps, 1_000_000))
    } else if ps < PS {
        format!("{:.2} ms", Frac::of(ps, 1_000_000_000))
    } else {
        format!("{:.3} s", Frac::of(ps, PS))
    }
}

fn mib_s(bytes: u64, ps: u64) -> Frac {
    Frac(u128::from(bytes) * u128::from(PS), u128::from(ps) << 20)
}

/// Where mapping starts to pay off: the smallest size from which on every
/// measured size has read/mmap ≥ `threshold`.
pub(crate) fn pays_off_from(rows: &[IncResult], threshold: Frac) -> Option<u64> {
    let mut from = None;
    for r in rows.iter().rev() {
        if r.ratio() >= threshold {
            from = Some(r.size);
        } else {
            break;
        }
    }
    from
}

/// Collects output; prints as it goes into the writer it was given.
pub(crate) struct Report<'a> {
    opts: Opts,
    info: DirInfo,
    csv_path: Option<PathBuf>,
    csv: String,
    out: &'a mut dyn Write,
    /// The first failed write to `out` (a closed pipe): returned by `finish`.
    err: Option<std::io::Error>,
}

/// The CPUs this process may run on (its affinity mask; 1 if unknown).
fn cpus() -> usize {
    use nix::sched::{CpuSet, sched_getaffinity};
    let Ok(set) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
        return 1;
    };
    let n = (0..CpuSet::count())
        .filter(|&i| set.is_set(i).unwrap_or(false))
        .count();
    n.max(1)
}

/// The 1-minute load average from /proc/loadavg.
fn load_average() -> Option<Frac> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Frac::parse(s.split_whitespace().next()?)
}

impl<'a> Report<'a> {
    pub(crate) fn new(o: &Opts, info: &DirInfo, out: &'a mut dyn Write) -> Result<Report<'a>> {
        if let Some(p) = &o.csv {
            // Fail before measuring anything when the CSV cannot be written.
            std::fs::write(p, b"")
                .context("cannot write the CSV file")
                .path(p)?;
        }
        Ok(Report {
            opts: o.clone(),
            info: info.clone(),
            csv_path: o.csv.clone(),
            csv: String::from(
                "part,size_bytes,method,runs,reps,min_s,median_s,cpu_median_s,mib_per_s,faults_per_pass,fs,sync,cold\n",
            ),
            out,
            err: None,
        })
    }

    /// One line of output (after a failed write, nothing more is written).
    fn say(&mut self, s: &str) {
        if self.err.is_none()
            && let Err(e) = writeln!(self.out, "{s}").and_then(|_| self.out.flush())
        {
            self.err = Some(e);
        }
    }

    /// Writing the report failed (the reader went away): stop measuring.
    pub(crate) fn failed(&self) -> bool {
        self.err.is_some()
    }

    fn row(&mut self, part: &str, size: u64, method: &str, reps: u64, m: &Measured) {
        let o = &self.opts;
        self.csv.push_str(&format!(
            "{part},{size},{method},{},{reps},{:.9},{:.9},{:.9},{:.1},{:.1},{},{},{}\n",
            m.wall.n,
            Frac::of(m.wall.min, PS),
            Frac::of(m.wall.median, PS),
            Frac::of(m.cpu.median, PS),
            mib_s(size, m.wall.median),
            m.faults,
            self.info.fs,
            o.sync,
            o.cold
        ));
    }

    pub(crate) fn header(&mut self) {
        let o = self.opts.clone();
        let ram = crate::sys::phys_mem()
            .map(human)
            .unwrap_or_else(|| "?".into());
        let free = self.info.avail.map(human).unwrap_or_else(|| "?".into());
        self.say(&format!(
            "mmkit {} bench: read()/write() against mmap on this machine",
            env!("CARGO_PKG_VERSION")
        ));
        self.say(&format!(
            "  machine   {} {}, {}-bit, page {} B, RAM {ram}",
            std::env::consts::ARCH,
            std::env::consts::OS,
            usize::BITS,
            crate::sys::page_size()
        ));
        self.say(&format!(
            "  scratch   {} ({}, {free} free)",
            o.dir.display(),
            self.info.fs
        ));
        let cache = if o.cold {
            "cold: file evicted with posix_fadvise(DONTNEED) before each run (no effect on tmpfs)"
        } else {
            "warm page cache (caches are not dropped)"
        };
        let dura = if o.sync {
            "durable: fdatasync vs msync(MS_SYNC)"
        } else {
            "not durable: no fdatasync, msync(MS_ASYNC)"
        };
        self.say(&format!(
            "  settings  {} runs + 1 warm-up, median reported; read() buffer {}; map window {}",
            o.runs,
            human(o.buf as u64),
            human(o.window as u64)
        ));
        self.say(&format!("            {cache}; {dura}"));
        let cpus = cpus();
        if let Some(load) = load_average() {
            let busy = if load > Frac::of(cpus as u64, 2) {
                " -- busy machine: expect noisy timings"
            } else {
                ""
            };
            self.say(&format!("  load      {load:.2} on {cpus} CPUs{busy}"));
        }
    }

    pub(crate) fn skipped(&mut self, part: &str, size: u64, limit: u64) {
        self.say(&format!(
            "  ({part}: skipped {}: only {} may be used in {} -- choose another --dir or a smaller size)",
            human(size),
            human(limit),
            self.opts.dir.display()
        ));
    }

    pub(crate) fn notes(&mut self, r: &IncResult) {
        self.say("");
        self.say(&format!(
            "1. The notes' experiment: {} integers ({}), read -> +1 -> write back",
            r.size / 4,
            human(r.size)
        ));
        self.say(&format!(
            "   (times per pass; each timed sample repeats the pass {}x)",
            r.reps
        ));
        self.say(&format!(
            "   {:<16} {:>10} {:>10} {:>10} {:>12}",
            "method", "min", "median", "cpu", "faults/pass"
        ));
        for (name, m) in [("read()/write()", &r.read), ("mmap+msync", &r.mmap)] {
            self.say(&format!(
                "   {:<16} {:>10} {:>10} {:>10} {:>12.1}",
                name,
                dur(m.wall.min),
                dur(m.wall.median),
                dur(m.cpu.median),
                m.faults
            ));
        }
        self.say(&format!(
            "   read/mmap = {:.2} wall, {:.2} cpu (medians; above 1 means mmap is faster)",
            r.ratio(),
            r.cpu_ratio()
        ));
        self.row("notes", r.size, "read", r.reps, &r.read);
        self.row("notes", r.size, "mmap", r.reps, &r.mmap);
    }

    pub(crate) fn sweep_header(&mut self) {
        self.say("");
        self.say("2. Size sweep: increment every integer in place (medians per pass)");
        self.say(&format!(
            "   {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
            "size", "read()", "mmap", "read/mmap", "(cpu)", "MiB/s mmap", "mmap faults"
        ));
    }

    pub(crate) fn sweep_row(&mut self, r: &IncResult) {
        self.say(&format!(
            "   {:>10} {:>10} {:>10} {:>10.2} {:>10.2} {:>10.0} {:>12.0}",
            human(r.size),
            dur(r.read.wall.median),
            dur(r.mmap.wall.median),
            r.ratio(),
            r.cpu_ratio(),
            mib_s(r.size, r.mmap.wall.median),
            r.mmap.faults
        ));
        self.row("sweep", r.size, "read", r.reps, &r.read);
        self.row("sweep", r.size, "mmap", r.reps, &r.mmap);
    }

    pub(crate) fn sweep_summary(&mut self, rows: &[IncResult]) {
        if rows.is_empty() {
            return;
        }
        let best = rows.iter().max_by_key(|r| r.ratio());
        let worst = rows.iter().min_by_key(|r| r.ratio());
        match pays_off_from(rows, Frac::of(110, 100)) {
            Some(s) => self.say(&format!(
                "   => mapping pays off (>= 10% faster than read()) from {} on",
                human(s)
            )),
            None => {
                self.say("   => mapping is not 10% faster than read() at the largest size here")
            }
        }
        if let (Some(b), Some(w)) = (best, worst) {
            self.say(&format!(
                "      best read/mmap {:.2} at {}, worst {:.2} at {}",
                b.ratio(),
                human(b.size),
                w.ratio(),
                human(w.size)
            ));
        }
    }

    pub(crate) fn scan(&mut self, part: &str, size: u64, stride: usize, rows: &[ScanResult]) {
        self.say("");
        if stride <= 4 {
            self.say(&format!(
                "3. Sequential scan of {} (sum every integer; times per pass)",
                human(size)
            ));
        } else {
            self.say(&format!(
                "4. Record walk over {} (one integer every {} bytes, like a header walk; times per pass)",
                human(size),
                stride
            ));
        }
        self.say(&format!(
            "   {:<20} {:>10} {:>10} {:>10} {:>8} {:>8} {:>12}",
            "method", "min", "median", "cpu", "MiB/s", "vs read", "faults/pass"
        ));
        let base = rows.first().map_or(0, |r| r.m.wall.median);
        for r in rows {
            self.say(&format!(
                "   {:<20} {:>10} {:>10} {:>10} {:>8.0} {:>8.2} {:>12.0}",
                r.method,
                dur(r.m.wall.min),
                dur(r.m.wall.median),
                dur(r.m.cpu.median),
                mib_s(size, r.m.wall.median),
                Frac::of(base, r.m.wall.median),
                r.m.faults
            ));
        }
        self.say(
            "   (vs read: read() median / method median, wall; above 1 means faster than read())",
        );
        for r in rows {
            let method = r.method.replace(' ', "_");
            self.row(part, size, &method, 1, &r.m);
        }
    }

    /// Write the CSV file, if one was asked for.
    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some(p) = self.csv_path.clone() {
            std::fs::write(&p, self.csv.as_bytes())
                .context("cannot write the CSV file")
                .path(&p)?;
            self.say(&format!("\nCSV written to {}", p.display()));
        }
        match self.err.take() {
            Some(e) => Err(Error::io("cannot write the report", e)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(t: u64) -> Measured {
        Measured {
            wall: Stats::of(&[t]),
            cpu: Stats::of(&[t]),
            faults: Frac::of(0, 1),
        }
    }

    fn inc(size: u64, read: u64, mmap: u64) -> IncResult {
        IncResult {
            size,
            reps: 1,
            read: m(read),
            mmap: m(mmap),
        }
    }

    #[test]
    fn stats_min_and_median() {
        let s = Stats::of(&[3, 1, 2]);
        assert_eq!((s.min, s.median, s.n), (1, 2, 3));
        let s = Stats::of(&[40, 10, 20, 30]);
        assert_eq!((s.min, s.median), (10, 25));
        let s = Stats::of(&[u64::MAX, u64::MAX - 2]);
        assert_eq!(s.median, u64::MAX - 1);
        assert_eq!(Stats::of(&[]).n, 0);
    }

    #[test]
    fn pays_off_needs_every_larger_size() {
        let rows = vec![
            inc(4096, 100, 100),
            inc(16384, 150, 100),
            inc(65536, 100, 100),
            inc(262144, 120, 100),
            inc(1 << 20, 110, 100),
        ];
        let t = Frac::of(11, 10);
        assert_eq!(pays_off_from(&rows, t), Some(262144));
        assert_eq!(pays_off_from(&rows[..3], t), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(dur(12_340_000), "12.3 us");
        assert_eq!(dur(4_561_000_000), "4.56 ms");
        assert_eq!(dur(1_500_000_000_000), "1.500 s");
        assert_eq!(dur(999_960_000), "1000.0 us");
        assert_eq!(
            mib_s(3 << 20, 2 * PS).to_string(),
            Frac::of(3, 2).to_string()
        );
    }
}
