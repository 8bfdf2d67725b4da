//! `split` on a pcapng file: the blocks are walked through the windowed
//! input and fed to the [`Splitter`], whose piece plans (the section prefix,
//! then input ranges and the Section Length bytes of SHBs) become writer
//! jobs. Every piece is a pcapng file on its own; none is over `--size`
//! except a single block that does not fit next to the prefix.

use super::{BlockWalk, FINGERPRINT_LEN, is_packet, max_block};
use crate::error::Result;
use crate::pcapng::{Chunk, PiecePlan, Splitter};
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
        for plan in cut
            .into_iter()
            .chain(splitter.feed_sized(b.offset, t, b.len(), walk.bytes()))
        {
            let done = std::mem::take(&mut cur);
            if !push(o, namer, &mut report, plan, done, &mut emit) {
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
        push(o, namer, &mut report, plan, cur, &mut emit);
    }
    progress.finish();
    Ok(report)
}

/// Records a finished plan as a piece and hands its job to `emit`.
fn push(
    o: &SplitOpts,
    namer: &Namer,
    report: &mut SplitReport,
    plan: PiecePlan,
    packets: Packets,
    emit: &mut impl FnMut(Job) -> bool,
) -> bool {
    let idx = report.pieces.len() as u64;
    let path = namer.path(idx);
    let oversized = plan.len > o.size;
    if oversized {
        let at = plan.chunks.iter().find_map(|c| match c {
            Chunk::Input(r) => Some(r.start),
            Chunk::Bytes(_) => None,
        });
        log::warn!(
            "block at byte {} does not fit in --size {} with the {}-byte section prefix ({} bytes in all): it goes alone in its own piece",
            at.unwrap_or(0),
            o.size,
            plan.prefix.len(),
            plan.len
        );
    }
    report.records += packets.count;
    report.pieces.push(Piece {
        path: path.clone(),
        bytes: plan.len,
        records: packets.count,
        oversized,
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
