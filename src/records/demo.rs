//! demo: the main job end to end, in a temporary directory, saying what it
//! does: gen → split → check each piece → join → compare, for a seed-layout
//! file (pieces written through mappings) and a pcap (pieces written by the
//! kernel).

use super::check::check_file;
use super::generate::{GenOpts, run as generate};
use super::input::{Input, WindowOpts};
use super::join::{JoinOpts, run as join};
use super::layout::{LayoutKind, LayoutOpts};
use super::output::WriteMode;
use super::split::{SplitOpts, run as split};
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::num::human;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) struct DemoOpts {
    pub(crate) dir: Option<PathBuf>,
    pub(crate) size: u64,
    pub(crate) piece: u64,
    pub(crate) keep: bool,
}

/// Compare two files through mapping windows; `None` when identical, else
/// the first differing byte offset.
pub(crate) fn first_difference(a: &Path, b: &Path) -> Result<Option<u64>> {
    let w = WindowOpts::default();
    let mut x = Input::open(a, &w)?;
    let mut y = Input::open(b, &w)?;
    let common = x.len().min(y.len());
    let step = x.max_chunk().min(y.max_chunk()).min(1 << 20) as u64;
    let mut off = 0;
    while off < common {
        let n = step.min(common - off) as usize;
        let xa = x.bytes(off, n)?;
        let yb = y.bytes(off, n)?;
        if let Some(i) = xa.iter().zip(yb).position(|(p, q)| p != q) {
            return Ok(Some(off + i as u64));
        }
        off += n as u64;
    }
    Ok(if x.len() == y.len() {
        None
    } else {
        Some(common)
    })
}

struct Cleanup(PathBuf, bool);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What a failed write to the output is called.
const OUT: &str = "cannot write to the output";

fn one(
    dir: &Path,
    name: &str,
    layout: LayoutKind,
    write: WriteMode,
    o: &DemoOpts,
    out: &mut dyn Write,
) -> Result<()> {
    let t0 = Instant::now();
    let input = dir.join(name);
    let lo = LayoutOpts::named(layout);
    let g = generate(&GenOpts {
        output: input.clone(),
        size: o.size,
        seed: 42,
        sparse: false,
        min_payload: None,
        max_payload: None,
        force: false,
        layout: lo.clone(),
    })?;
    writeln!(
        out,
        "  1. gen    {name}: {} in {} records, {}",
        human(g.bytes),
        g.records,
        g.layout
    )
    .context(OUT)?;
    let pieces_dir = dir.join(format!("{name}.pieces"));
    std::fs::create_dir_all(&pieces_dir)
        .context("cannot create directory")
        .path(&pieces_dir)?;
    let s = split(&SplitOpts {
        input: input.clone(),
        out_dir: pieces_dir.clone(),
        size: o.piece,
        prefix: None,
        write,
        force: false,
        sync: false,
        dry_run: false,
        records: None,
        layout: LayoutOpts::named(LayoutKind::Auto),
        window: WindowOpts::default(),
    })?;
    let largest = s.pieces.iter().map(|p| p.bytes).max().unwrap_or(0);
    writeln!(
        out,
        "  2. split  into {} pieces of at most {} (largest {} bytes), written with --write {}",
        s.pieces.len(),
        human(o.piece),
        largest,
        if write == WriteMode::Mmap {
            "mmap"
        } else {
            "kernel"
        }
    )
    .context(OUT)?;
    let mut recs = 0;
    for p in &s.pieces {
        let r = check_file(
            &p.path,
            &LayoutOpts::named(LayoutKind::Auto),
            &WindowOpts::default(),
        )?;
        if !r.clean() {
            r.render(out).context(OUT)?;
            return Err(Error::malformed("a piece failed its check").with_path(&p.path));
        }
        recs += r.records;
    }
    writeln!(
        out,
        "  3. check  every piece clean: {recs} records in all (the original has {})",
        g.records
    )
    .context(OUT)?;
    if recs != g.records {
        return Err(Error::new(
            Kind::Mismatch,
            "pieces hold a different number of records",
        ));
    }
    let joined = dir.join(format!("joined-{name}"));
    let j = join(&JoinOpts {
        pieces: s.pieces.iter().map(|p| p.path.clone()).collect(),
        output: joined.clone(),
        write,
        force: false,
        sync: false,
        no_manifest: false,
        layout: LayoutOpts::named(LayoutKind::Auto),
        window: WindowOpts::default(),
    })?;
    writeln!(
        out,
        "  4. join   {} pieces → joined-{name} ({} bytes)",
        j.pieces, j.bytes
    )
    .context(OUT)?;
    if let Some(at) = first_difference(&input, &joined)? {
        return Err(
            Error::new(Kind::Mismatch, "joined file differs from the original")
                .with_path(&joined)
                .at(at),
        );
    }
    writeln!(
        out,
        "  5. compare: joined-{name} is byte-identical to {name} ({:.2} s in all)",
        crate::decimal::Frac(t0.elapsed().as_nanos(), 1_000_000_000)
    )
    .context(OUT)?;
    Ok(())
}

pub(crate) fn run(o: &DemoOpts, out: &mut dyn Write) -> Result<()> {
    let base = o.dir.clone().unwrap_or_else(std::env::temp_dir);
    let name = format!("mmkit-demo-{}", std::process::id());
    let dir = base.join(&name);
    std::fs::create_dir_all(&dir)
        .context("cannot create the demo directory")
        .path(&dir)?;
    let _cleanup = Cleanup(dir.clone(), o.keep);
    // Ctrl-C or a lost console (SIGHUP) removes the directory too: on
    // OpenWrt /tmp is RAM.
    let base_dir = std::fs::File::open(&base)
        .context("cannot open the demo's parent directory")
        .path(&base)?;
    let _on_signal = (!o.keep).then(|| {
        crate::sys::fault::register_tree(base_dir.as_raw_fd(), std::ffi::OsStr::new(&name))
    });
    writeln!(out, "mmkit demo in {}", dir.display()).context(OUT)?;
    writeln!(
        out,
        "seed layout (136-byte file header, 12-byte record headers), pieces written through mmap:"
    )
    .context(OUT)?;
    one(&dir, "demo.seed", LayoutKind::Seed, WriteMode::Mmap, o, out)?;
    writeln!(
        out,
        "pcap layout, pieces written by the kernel (copy_file_range):"
    )
    .context(OUT)?;
    one(
        &dir,
        "demo.pcap",
        LayoutKind::Pcap,
        WriteMode::Kernel,
        o,
        out,
    )?;
    if o.keep {
        writeln!(out, "kept {}", dir.display()).context(OUT)?;
    }
    writeln!(
        out,
        "demo passed: split at record boundaries, every piece valid, join bit-exact"
    )
    .context(OUT)?;
    Ok(())
}
