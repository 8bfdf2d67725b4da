//! Does a list of pieces make one whole, in order? With the manifest split
//! wrote beside them: exactly its pieces, each matching its entry, in its
//! order (put in order when given otherwise); a manifest there that lists
//! none of them is refused. Without it (pieces renamed or copied elsewhere,
//! or `--no-manifest`): no piece twice, and — where the layout numbers or
//! timestamps its records — each piece continuing where the previous one
//! ended.

use super::Scanned;
use crate::error::{Error, Result};
use crate::records::layout::{Endian, Layout, read_uint};
use crate::records::pieces::{Manifest, manifest_for};
use std::path::Path;

/// Put `pieces` in the order they must be joined in, or refuse.
/// `layout` is `None` for pcapng, whose pieces are checked by the manifest,
/// for duplicates, and then by the section prefix each piece repeats.
/// `manifest` false (`--no-manifest`): the manifest beside the pieces is
/// not read, the pieces are checked by their content only.
pub(super) fn order(
    pieces: Vec<Scanned>,
    layout: Option<&Layout>,
    manifest: bool,
) -> Result<Vec<Scanned>> {
    if manifest && let Some(found) = find_manifest(&pieces)? {
        return by_manifest(pieces, &found.0, &found.1);
    }
    refuse_duplicates(&pieces)?;
    match layout {
        Some(l) => by_content(pieces, l),
        None => Ok(pieces),
    }
}

/// The manifest beside the first piece. One that lists none of the pieces
/// (another split with their prefix replaced it, or they were renamed)
/// cannot vouch for them: refused, saying what it describes.
fn find_manifest(pieces: &[Scanned]) -> Result<Option<(std::path::PathBuf, Manifest)>> {
    let Some(path) = pieces.first().and_then(|p| manifest_for(&p.path)) else {
        return Ok(None);
    };
    let Some(m) = Manifest::read(&path)? else {
        return Ok(None);
    };
    // An incomplete manifest speaks for every piece of its name: the set
    // it describes is broken whether it lists them or not.
    if m.complete
        && !pieces
            .iter()
            .any(|p| m.pieces.iter().any(|e| e.name == name(&p.path)))
    {
        return Err(Error::malformed(format!(
            "{} lists none of these pieces: it describes a split of {} ({} piece(s){}); these pieces come from another split with the same prefix",
            path.display(),
            m.input,
            m.pieces.len(),
            m.pieces
                .first()
                .map_or(String::new(), |e| format!(", the first {}", e.name))
        ))
        .with_path(&pieces[0].path)
        .hint("--no-manifest ignores the manifest and checks the pieces by their content only"));
    }
    Ok(Some((path, m)))
}

fn name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

fn by_manifest(pieces: Vec<Scanned>, mpath: &Path, m: &Manifest) -> Result<Vec<Scanned>> {
    let mp = mpath.display();
    if !m.complete {
        return Err(Error::malformed(format!(
            "the split that wrote these pieces did not finish ({mp} says the set is incomplete)"
        )));
    }
    let mut slots: Vec<Option<Scanned>> = m.pieces.iter().map(|_| None).collect();
    let mut given_order = Vec::with_capacity(pieces.len());
    for p in pieces {
        let n = name(&p.path);
        let Some(i) = m.pieces.iter().position(|e| e.name == n) else {
            return Err(Error::malformed(format!(
                "not a piece of the split recorded in {mp} (a leftover of an earlier split?)"
            ))
            .with_path(&p.path));
        };
        let e = &m.pieces[i];
        if (e.bytes, e.records, e.first, e.last) != (p.bytes, p.records, p.first_fp, p.last_fp) {
            return Err(Error::malformed(format!(
                "this piece does not match its entry in {mp}: it comes from another split, or changed since"
            ))
            .with_path(&p.path));
        }
        if slots[i].is_some() {
            return Err(Error::malformed("this piece is given twice").with_path(&p.path));
        }
        given_order.push(i);
        slots[i] = Some(p);
    }
    if let Some(i) = slots.iter().position(Option::is_none) {
        return Err(Error::malformed(format!(
            "piece {} of {} is missing ({mp} lists {} pieces)",
            m.pieces[i].name,
            m.pieces.len(),
            m.pieces.len()
        )));
    }
    if given_order.windows(2).any(|w| w[0] > w[1]) {
        log::info!("put the pieces in the order {mp} records");
    }
    Ok(slots.into_iter().flatten().collect())
}

fn refuse_duplicates(pieces: &[Scanned]) -> Result<()> {
    for (i, a) in pieces.iter().enumerate() {
        if let Some(b) = pieces[..i].iter().find(|b| {
            b.identity == a.identity
                || (a.records > 0
                    && (b.bytes, b.first_fp, b.last_fp) == (a.bytes, a.first_fp, a.last_fp))
        }) {
            return Err(Error::malformed(format!(
                "this piece is the same as {}: a piece is given twice",
                b.path.display()
            ))
            .with_path(&a.path));
        }
    }
    Ok(())
}

/// Where a record stands in its stream: its sequence number (seed) or its
/// timestamp (pcap), from its header.
fn position(layout: &Layout, header: &[u8]) -> Option<u128> {
    if layout.seq_offset.is_some() {
        return layout.seq(header).map(u128::from);
    }
    if layout.name == "pcap" && header.len() >= 8 {
        let e: Endian = layout.endian;
        let sec = u128::from(read_uint(&header[0..4], 4, e));
        let frac = u128::from(read_uint(&header[4..8], 4, e));
        let scale = if layout.pcap_nanos { 1 } else { 1000 };
        return Some(sec * 1_000_000_000 + frac * scale);
    }
    None
}

/// Does `b` continue where `a` ended?
fn continues(layout: &Layout, a: &Scanned, b: &Scanned) -> Option<bool> {
    let end = position(layout, a.last_header.as_deref()?)?;
    let start = position(layout, b.first_header.as_deref()?)?;
    Some(if layout.seq_offset.is_some() {
        start == (end + 1) % (1 << 32)
    } else {
        start >= end
    })
}

fn by_content(mut pieces: Vec<Scanned>, layout: &Layout) -> Result<Vec<Scanned>> {
    let broken = |v: &[Scanned]| {
        v.windows(2)
            .position(|w| continues(layout, &w[0], &w[1]) == Some(false))
    };
    let Some(k) = broken(&pieces) else {
        return Ok(pieces);
    };
    // Only the order wrong? Where records carry sequence numbers, sort by
    // where each piece starts and look again. (Timestamps only order: two
    // captures' pieces could interleave, so a regression is refused.)
    if layout.seq_offset.is_none() {
        return Err(Error::malformed(
            "its first timestamp is earlier than the previous piece's last: the pieces are out of order, or come from different captures",
        )
        .with_path(&pieces[k + 1].path));
    }
    let mut sorted: Vec<Scanned> = Vec::with_capacity(pieces.len());
    sorted.append(&mut pieces);
    sorted.sort_by_key(|p| p.first_header.as_deref().and_then(|h| position(layout, h)));
    let sorted_ok = broken(&sorted).is_none();
    if sorted_ok {
        log::info!("the pieces were not in order; joining them in the order their records say");
        return Ok(sorted);
    }
    // Report against the order given.
    let bad = &pieces_in_given_order(sorted, k)?;
    Err(Error::malformed(
        "its first sequence number does not follow the previous piece's last: a piece is missing, or the pieces come from different recordings",
    )
    .with_path(bad))
}

/// The path of the piece after the break at `k` in the order given (the
/// caller's list was consumed by the sort; the given order is restored from
/// each piece's index).
fn pieces_in_given_order(mut v: Vec<Scanned>, k: usize) -> Result<std::path::PathBuf> {
    v.sort_by_key(|p| p.index);
    v.get(k + 1)
        .map(|p| p.path.clone())
        .ok_or_else(|| Error::malformed("pieces out of order"))
}
