//! `recover` on a pcapng file: the longest prefix of whole, valid blocks.
//!
//! A block is kept when its framing holds (total length a multiple of 4, at
//! least 12 and what its type needs, the trailing copy equal, its contents
//! inside it: the walk's checks) and when it makes sense where it stands: a
//! packet block (EPB, SPB, obsolete PB) or an Interface Statistics Block
//! must name an interface that an IDB of its section has described. A block
//! header of zero bytes only is the zero-filled tail of a pre-sized output.
//! The Section Header Block is never dropped alone: a file without a whole
//! first SHB has nothing to recover.

use super::{BlockWalk, is_packet, max_block};
use crate::error::{Error, Kind, Result};
use crate::pcapng::{EPB, Endian, IDB, ISB, PB, SHB, SPB};
use crate::records::input::Input;
use crate::records::layout::LayoutOpts;
use crate::records::recover::{Blocks, Scan};

/// The interface a packet or statistics block names, if it names one.
fn interface_of(block_type: u32, e: Endian, head: &[u8]) -> Option<u32> {
    match block_type {
        EPB | ISB => e.u32_at(head, 8),
        PB => e.u16_at(head, 8).map(u32::from),
        SPB => Some(0),
        _ => None,
    }
}

fn type_name(t: u32) -> &'static str {
    match t {
        EPB => "Enhanced Packet Block",
        SPB => "Simple Packet Block",
        PB => "Packet Block",
        ISB => "Interface Statistics Block",
        _ => "block",
    }
}

/// Walks `src`; keeps the longest prefix of whole, valid blocks.
pub(crate) fn scan(src: &mut Input, lopts: &LayoutOpts) -> Result<Scan> {
    let max = max_block(lopts);
    let mut w = BlockWalk::new(0, src.len(), max);
    let (mut blocks, mut packets, mut kept) = (0u64, 0u64, 0u64);
    let mut interfaces = 0u64;
    let mut section = None;
    let mut reason = None;
    loop {
        match w.next(src) {
            Ok(Some(b)) => {
                let t = b.header.block_type;
                match t {
                    SHB => {
                        interfaces = 0;
                        section = Some(b.header.endian);
                    }
                    IDB => interfaces += 1,
                    _ => {}
                }
                if let Some(id) = interface_of(t, b.header.endian, w.bytes())
                    && u64::from(id) >= interfaces
                {
                    let why = if interfaces == 0 {
                        format!(
                            "{} before any Interface Description Block of its section",
                            type_name(t)
                        )
                    } else {
                        format!(
                            "{} names interface {id}; its section describes {interfaces}",
                            type_name(t)
                        )
                    };
                    reason = Some((why, b.offset));
                    break;
                }
                blocks += 1;
                if is_packet(t) {
                    packets += 1;
                }
                kept = b.end();
            }
            Ok(None) => break,
            Err(e) if e.kind == Kind::Malformed => {
                let at = e.offset.unwrap_or(kept);
                let zeros = zero_tail(src)?;
                let msg = if zeros <= at && zeros < src.len() {
                    "block header of zero bytes only (a zero-filled tail)".to_string()
                } else if src.len() - zeros >= 8 {
                    format!(
                        "{}; the file ends in {} zero bytes from byte {zeros} (a zero-filled tail)",
                        e.into_msg(),
                        src.len() - zeros
                    )
                } else {
                    e.into_msg()
                };
                reason = Some((msg, at));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    if blocks == 0 {
        let (why, at) = reason.unwrap_or_else(|| ("no block".into(), 0));
        return Err(
            Error::malformed(format!("the Section Header Block is not whole: {why}"))
                .with_path(src.path())
                .at(at)
                .hint("nothing is recoverable without a good Section Header Block"),
        );
    }
    let (dropped, dropped_packets) = match &reason {
        Some((_, at)) => whole_blocks_from(src, *at, section, max),
        None => (0, 0),
    };
    Ok(Scan {
        layout: "pcapng".into(),
        header_len: 0,
        records: packets,
        kept,
        reason,
        torn: None,
        blocks: Some(Blocks {
            kept: blocks,
            dropped,
            dropped_packets,
        }),
    })
}

/// Where the run of zero bytes that ends the file begins (its length when
/// the last byte is not zero).
fn zero_tail(src: &mut Input) -> Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = src.len();
    while at > 0 {
        let k = at.min(buf.len() as u64);
        let chunk = &mut buf[..k as usize];
        src.read_exact_at(chunk, at - k)?;
        if let Some(i) = chunk.iter().rposition(|&b| b != 0) {
            return Ok(at - k + i as u64 + 1);
        }
        at -= k;
    }
    Ok(0)
}

/// Whole, well-framed blocks (and packets among them) from `at` on: what a
/// block that only means the wrong thing drops with it.
fn whole_blocks_from(src: &mut Input, at: u64, section: Option<Endian>, max: u32) -> (u64, u64) {
    let mut w = BlockWalk::new(at, src.len(), max).in_section(section);
    let (mut n, mut p) = (0, 0);
    while let Ok(Some(b)) = w.next(src) {
        n += 1;
        if is_packet(b.header.block_type) {
            p += 1;
        }
    }
    (n, p)
}
