//! join for pcapng pieces. Each piece is walked on its own (it is a pcapng
//! file), the set is checked and ordered like any other ([`set::order`]:
//! the manifest, duplicates), then a [`Joiner`] follows the pieces in order
//! and names, for each, the repeated section prefix to drop: exactly the
//! bytes the split wrote, or the piece is refused, named. The output is the
//! first piece whole, then every later piece after its prefix.

use super::{JoinOpts, JoinReport, Scanned, set, wopts};
use crate::error::{Error, Kind, Result};
use crate::pcapng::Joiner;
use crate::records::input::Input;
use crate::records::output::{MappedWriter, OutOpts, OutputFile, WriteMode, kernel_copy};
use crate::records::pcapng::split::piece_packets;
use crate::records::pcapng::{BlockWalk, max_block};
use crate::ui::Progress;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

fn scan(o: &JoinOpts, index: usize, path: &PathBuf, max: u32) -> Result<Scanned> {
    let mut src = Input::open(path, &wopts(o))?;
    let (records, first_fp, last_fp) = piece_packets(&mut src, 0, max)?;
    let md = src
        .file()
        .metadata()
        .map_err(|e| Error::io("cannot stat piece", e).with_path(path))?;
    Ok(Scanned {
        index,
        path: path.clone(),
        identity: (md.dev(), md.ino()),
        bytes: src.len(),
        records,
        first_fp,
        last_fp,
        first_header: None,
        last_header: None,
    })
}

/// How many leading bytes of each piece (in order) are the repeated prefix.
fn prefixes(o: &JoinOpts, pieces: &[Scanned], max: u32) -> Result<Vec<u64>> {
    let mut joiner = Joiner::new();
    let mut drops = Vec::with_capacity(pieces.len());
    for p in pieces {
        let mut src = Input::open(&p.path, &wopts(o))?;
        let want = joiner.expected_len().max(4) as u64;
        let mut head = vec![0u8; want.min(src.len()) as usize];
        src.read_exact_at(&mut head, 0)?;
        let drop = joiner.start_piece(&head).map_err(|e| {
            Error::malformed(format!(
                "this piece does not continue the pieces before it: {e}"
            ))
            .with_path(&p.path)
        })? as u64;
        let mut w = BlockWalk::new(drop, src.len(), max).in_section(joiner.endian());
        while let Some(b) = w.next(&mut src)? {
            joiner.feed(b.header.block_type, w.bytes());
        }
        drops.push(drop);
    }
    Ok(drops)
}

pub(super) fn run(o: &JoinOpts, paths: &[PathBuf]) -> Result<JoinReport> {
    let max = max_block(&o.layout);
    let mut scanned = Vec::with_capacity(paths.len());
    for (i, p) in paths.iter().enumerate() {
        scanned.push(scan(o, i, p, max)?);
    }
    let pieces = set::order(scanned, None)?;
    let drops = prefixes(o, &pieces, max)?;
    let records = pieces.iter().map(|p| p.records).sum();
    let total: u64 = pieces.iter().zip(&drops).map(|(p, d)| p.bytes - d).sum();
    let mode = std::fs::metadata(&pieces[0].path)
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let out_opts = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let out = OutputFile::create(&o.output, total, &out_opts, o.write == WriteMode::Mmap)?;
    let mut progress = Progress::new("join", total);
    let mut mapped = match o.write {
        WriteMode::Mmap => Some(MappedWriter::new(&out)),
        WriteMode::Kernel => None,
    };
    let mut at = 0;
    for (p, &drop) in pieces.iter().zip(&drops) {
        // One piece open at a time.
        let mut src = Input::open(&p.path, &wopts(o))?;
        if src.len() != p.bytes {
            return Err(
                Error::new(Kind::InputChanged, "this piece changed size while joining")
                    .with_path(&p.path),
            );
        }
        let n = p.bytes - drop;
        match mapped.as_mut() {
            Some(w) => w.copy_from(&mut src, drop, at, n)?,
            None => kernel_copy(src.file(), src.path(), drop, out.file(), &o.output, at, n)?,
        }
        at += n;
        progress.update(at, "");
    }
    if let Some(w) = mapped {
        w.finish()?;
    }
    out.commit()?;
    progress.finish();
    Ok(JoinReport {
        layout: "pcapng".into(),
        pieces: pieces.len(),
        records,
        bytes: total,
    })
}
