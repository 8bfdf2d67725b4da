//! join for pcapng pieces. Each piece is walked on its own (it is a pcapng
//! file), the set is checked and ordered like any other ([`set::order`]:
//! the manifest, duplicates), then a [`Joiner`] follows the pieces in order
//! and names, for each, the repeated section prefix to drop: exactly the
//! bytes the split wrote, or the piece is refused, named. The output is the
//! first piece whole, then every later piece after its prefix.

use super::{JoinOpts, JoinReport, Scanned, set, wopts};
use crate::error::{Error, Result};
use crate::pcapng::Joiner;
use crate::records::input::Input;
use crate::records::pcapng::split::piece_packets;
use crate::records::pcapng::{BlockWalk, max_block};
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
    let pieces = set::order(scanned, None, !o.no_manifest)?;
    let drops = prefixes(o, &pieces, max)?;
    let records = pieces.iter().map(|p| p.records).sum();
    let total = super::write_out(o, &pieces, &[], &drops)?;
    Ok(JoinReport {
        layout: "pcapng".into(),
        pieces: pieces.len(),
        records,
        bytes: total,
    })
}
