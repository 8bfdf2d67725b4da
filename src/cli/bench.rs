//! Command-line definitions for `mmkit bench`. The work is done in
//! [`crate::bench`].

use super::Outcome;
use crate::bench::{self, Opts, Parts};
use crate::error::{Error, Result};
use crate::num::{human, num_arg, size_arg};
use argh::FromArgs;
use std::io::Write;
use std::path::PathBuf;

/// measure read()/write() against mmap on this device (prints a table)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "bench",
    note = "Four parts: 'notes' (the original notes' program: N integers in a file, read -> +1 -> write back, once with read()/write() and once through a MAP_SHARED mapping sized with ftruncate, msync before munmap), 'sweep' (the same for sizes from --min to --max in x4 steps: where mapping starts to pay off) and 'scan' and 'walk' (a sequential read: read() with a large buffer against a mapped walk, with and without madvise hints; scan sums every integer, walk touches one integer per KiB as a record-header walk does). Runs are warm-cache; every result is self-checked. The scratch file goes to --dir and is removed at the end, on error and on Ctrl-C. Sizes that do not fit 80% of the free space (half the RAM on tmpfs) are skipped.",
    example = "mmkit bench --quick",
    example = "mmkit bench --dir /mnt/usb --max 256M --runs 3",
    example = "mmkit bench --only sweep --csv sweep.csv"
)]
pub(super) struct BenchArgs {
    /// largest file of the size sweep (default 1G; --quick: 16M)
    #[argh(option, from_str_fn(size_arg))]
    pub max: Option<u64>,
    /// smallest file of the size sweep (default 4K)
    #[argh(option, default = "4096", from_str_fn(size_arg))]
    pub min: u64,
    /// timed runs per method, after one warm-up (default 5; --quick: 3)
    #[argh(option, from_str_fn(num_arg))]
    pub runs: Option<u64>,
    /// directory for the scratch file (default: $TMPDIR or /tmp)
    #[argh(option)]
    pub dir: Option<PathBuf>,
    /// small and fast: --max 16M, --scan-size 16M, --runs 3
    #[argh(switch)]
    pub quick: bool,
    /// number of integers in the notes' experiment (default 10000, as in the notes)
    #[argh(option, default = "10000", from_str_fn(num_arg))]
    pub ints: u64,
    /// size of the scan and walk file (default: --max, at most 256M)
    #[argh(option, from_str_fn(size_arg))]
    pub scan_size: Option<u64>,
    /// read() buffer (default 1M)
    #[argh(option, default = "1 << 20", from_str_fn(size_arg))]
    pub buf: u64,
    /// mapping window: files are mapped this much at a time (default 64M on 64-bit, 16M on 32-bit)
    #[argh(option, from_str_fn(size_arg))]
    pub window: Option<u64>,
    /// make every pass durable: fdatasync after write(), msync(MS_SYNC) (default: MS_ASYNC)
    #[argh(switch)]
    pub sync: bool,
    /// evict the file from the page cache before each run (posix_fadvise; no effect on tmpfs)
    #[argh(switch)]
    pub cold: bool,
    /// parts to run, comma-separated: notes,sweep,scan,walk (default: all)
    #[argh(option)]
    pub only: Option<String>,
    /// also write the results to this CSV file
    #[argh(option)]
    pub csv: Option<PathBuf>,
}

fn parts(s: Option<&str>) -> Result<Parts> {
    let Some(s) = s else {
        return Ok(Parts {
            notes: true,
            sweep: true,
            scan: true,
            walk: true,
        });
    };
    let mut p = Parts {
        notes: false,
        sweep: false,
        scan: false,
        walk: false,
    };
    for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match w {
            "notes" => p.notes = true,
            "sweep" => p.sweep = true,
            "scan" => p.scan = true,
            "walk" => p.walk = true,
            _ => {
                return Err(Error::usage(format!(
                    "--only: unknown part '{w}' (use notes, sweep, scan, walk)"
                )));
            }
        }
    }
    if !(p.notes || p.sweep || p.scan || p.walk) {
        return Err(Error::usage(
            "--only: name at least one of notes, sweep, scan, walk",
        ));
    }
    Ok(p)
}

/// Turn the command line into validated [`Opts`].
fn opts(a: &BenchArgs) -> Result<Opts> {
    let page = crate::sys::page_size() as u64;
    let max = a.max.unwrap_or(if a.quick { 16 << 20 } else { 1 << 30 });
    let runs = a.runs.unwrap_or(if a.quick { 3 } else { 5 });
    if runs == 0 || runs > 1000 {
        return Err(Error::usage("--runs must be between 1 and 1000"));
    }
    if a.min < 4 || max < a.min {
        return Err(Error::usage(format!(
            "need 4 <= --min ({}) <= --max ({})",
            a.min, max
        )));
    }
    if a.ints == 0 || a.ints > (1 << 40) {
        return Err(Error::usage("--ints must be between 1 and 2^40"));
    }
    if a.buf < 4 || a.buf > 1 << 30 {
        return Err(Error::usage("--buf must be between 4 bytes and 1G"));
    }
    let window = a
        .window
        .unwrap_or(crate::records::input::default_window() as u64);
    if window < page || window > (isize::MAX as u64) / 2 {
        return Err(Error::usage(format!(
            "--window {} must be at least one page ({page} B) and fit this {}-bit address space",
            human(window),
            usize::BITS
        )));
    }
    let scan_size = a.scan_size.unwrap_or(if a.quick {
        16 << 20
    } else {
        max.min(256 << 20)
    });
    if scan_size < 4 {
        return Err(Error::usage("--scan-size must be at least 4 bytes"));
    }
    let dir = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    if !dir.is_dir() {
        return Err(Error::usage("--dir is not a directory").with_path(&dir));
    }
    Ok(Opts {
        dir,
        ints: a.ints,
        min: a.min,
        max,
        scan_size,
        runs: runs as usize,
        // Whole integers per buffer; windows whole pages.
        buf: (a.buf / 4 * 4) as usize,
        window: (window / page * page) as usize,
        sample_bytes: if a.quick { 2 << 20 } else { 8 << 20 },
        sync: a.sync,
        cold: a.cold,
        parts: parts(a.only.as_deref())?,
        csv: a.csv.clone(),
    })
}

pub(super) fn bench(a: BenchArgs, out: &mut dyn Write) -> Result<Outcome> {
    bench::run(&opts(&a)?, out)?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_parse_and_reject() {
        let p = parts(Some("sweep, scan")).unwrap();
        assert!(!p.notes && p.sweep && p.scan);
        assert!(parts(Some("nope")).is_err());
        assert!(parts(Some(",")).is_err());
        assert!(parts(None).unwrap().notes);
    }
}
