//! `split` on a pcapng file: the blocks are walked through the windowed
//! input and fed to the [`Splitter`], whose piece plans (the section prefix,
//! then input ranges and the Section Length bytes of SHBs) become writer
//! jobs. Every piece is a pcapng file on its own and none is over
//! `--size`: a block that does not fit next to the prefix stops the split
//! (exit 2), before anything is written when that is so at the start.

use super::{BlockWalk, FINGERPRINT_LEN, is_packet, max_block};
use crate::error::{Error, Result};
use crate::pcapng::section::{Disposition, disposition};
use crate::pcapng::{DSB, IDB, PiecePlan, SHB, Splitter, TooSmall};
use crate::records::input::Input;
use crate::records::pieces::{Entry, Namer, fingerprint};
use crate::records::split::{Job, Piece, SplitOpts, SplitReport};
use crate::ui::Progress;

/// Packets of the piece being cut and the fingerprints of its first and last.
#[derive(Default, Clone, Copy)]
struct Packets {
    count: u64,
    first: u64,
    last: u64,
}

impl Packets {
    fn add(&mut self, head: &[u8]) {
        let fp = fingerprint(&head[..head.len().min(FINGERPRINT_LEN)]);
        if self.count == 0 {
            self.first = fp;
        }
        self.last = fp;
        self.count += 1;
    }
}

/// The manifest's view of a pcapng piece: its packets (the prefix holds
/// none) and the fingerprints of the first bytes of its first and last
/// packet blocks (timestamps and lengths).
pub(crate) fn piece_packets(src: &mut Input, start: u64, max: u32) -> Result<(u64, u64, u64)> {
    let mut w = BlockWalk::new(start, src.len(), max);
    let mut p = Packets::default();
    while let Some(b) = w.next(src)? {
        if is_packet(b.header.block_type) {
            p.add(w.bytes());
        }
    }
    Ok((p.count, p.first, p.last))
}

/// Refuses `--size` (exit 2) when the section prefix at the start (the
/// first SHB and the IDBs and DSBs right after it) and the first block
/// after it do not fit in one piece; reads only those blocks, before any
/// output exists. Damage is left to the split's walk.
pub(crate) fn check_start(o: &SplitOpts, src: &mut Input) -> Result<()> {
    let mut w = BlockWalk::new(0, src.len(), max_block(&o.layout));
    let (mut prefix, mut idbs, mut dsbs) = (0u64, 0u64, 0u64);
    let mut first = None;
    while let Ok(Some(b)) = w.next(src) {
        let t = b.header.block_type;
        match t {
            SHB if prefix == 0 => {}
            IDB => idbs += 1,
            DSB => dsbs += 1,
            _ if disposition(t) == Disposition::Drop => continue,
            _ => {
                first = Some(b);
                break;
            }
        }
        prefix += b.len();
    }
    let block = first.map_or(0, |b| b.len());
    if prefix + block <= o.size {
        return Ok(());
    }
    let after = match first {
        Some(b) => format!(
            " and the first block after it (at byte {}) is {block} bytes",
            b.offset
        ),
        None => String::new(),
    };
    Err(Error::usage(format!(
        "the section prefix at the start is {prefix} bytes (its SHB, {idbs} IDB(s), {dsbs} DSB(s)){after}: every piece begins with that prefix, so --size {} cannot hold one; the smallest workable --size is {}",
        o.size,
        prefix + block
    ))
    .with_path(src.path())
    .at(0))
}

/// The error of a split stopped at a block that does not fit.
fn too_small(o: &SplitOpts, src: &Input, r: TooSmall, done: usize) -> Error {
    Error::usage(format!(
        "the block at byte {} ({} bytes) does not fit in --size {} after the {}-byte section prefix its piece begins with (the section's SHB, IDBs and DSBs so far): --size {} or more gets past it; the {} piece(s) before it are complete",
        r.at,
        r.block,
        o.size,
        r.prefix,
        r.need(),
        done
    ))
    .with_path(src.path())
    .at(r.at)
}

/// Walk the input, cutting pieces; `emit` gets each piece and returns false
/// to stop early.
pub(crate) fn walk_pieces(
    o: &SplitOpts,
    src: &mut Input,
    total: u64,
    namer: &Namer,
    mut emit: impl FnMut(Job) -> bool,
) -> Result<SplitReport> {
    let mut report = SplitReport {
        layout: "pcapng".into(),
        input_bytes: total,
        ..Default::default()
    };
    let mut walk = BlockWalk::new(0, total, max_block(&o.layout));
    let mut splitter = Splitter::new(o.size);
    let mut cur = Packets::default();
    let mut progress = Progress::new("split", total);
    while let Some(b) = walk.next(src)? {
        let t = b.header.block_type;
        // --records: a piece holding N packets closes before the next block
        // it would keep (as a stream split does), unless that is an ISB: the
        // statistics of the packets before it stay with them.
        let full = o.records.is_some_and(|n| cur.count >= n) && super::closes_before(t);
        let cut = if full { splitter.cut() } else { None };
        let fed = match splitter.feed_sized(b.offset, t, b.len(), walk.bytes()) {
            Ok(p) => p,
            Err(r) => {
                // The pieces before the block are complete.
                let mut stop = cut.into_iter().chain(splitter.finish());
                if let Some(plan) = stop.next() {
                    let done = std::mem::take(&mut cur);
                    push(namer, &mut report, plan, done, &mut emit);
                }
                if let Some(plan) = stop.next() {
                    push(namer, &mut report, plan, cur, &mut emit);
                }
                progress.finish();
                return Err(too_small(o, src, r, report.pieces.len()));
            }
        };
        for plan in cut.into_iter().chain(fed) {
            let done = std::mem::take(&mut cur);
            if !push(namer, &mut report, plan, done, &mut emit) {
                progress.finish();
                return Ok(report);
            }
            progress.update(b.offset, &format!("piece {}", report.pieces.len()));
        }
        if is_packet(t) {
            cur.add(walk.bytes());
        }
    }
    if let Some(plan) = splitter.finish() {
        push(namer, &mut report, plan, cur, &mut emit);
    }
    progress.finish();
    Ok(report)
}

/// Records a finished plan as a piece and hands its job to `emit`.
fn push(
    namer: &Namer,
    report: &mut SplitReport,
    plan: PiecePlan,
    packets: Packets,
    emit: &mut impl FnMut(Job) -> bool,
) -> bool {
    let idx = report.pieces.len() as u64;
    let path = namer.path(idx);
    report.records += packets.count;
    report.pieces.push(Piece {
        path: path.clone(),
        bytes: plan.len,
        records: packets.count,
        oversized: false,
    });
    let entry = Entry {
        name: namer.file_name(idx),
        bytes: plan.len,
        records: packets.count,
        first: packets.first,
        last: packets.last,
    };
    emit(Job {
        idx,
        path,
        head: plan.prefix,
        body: plan.chunks,
        bytes: plan.len,
        entry,
        // pcapng pieces are walked again by join; no re-check here yet.
        verify: Vec::new(),
    })
}
