//! pcapng in the record pipeline: `--layout pcapng` (or `auto` on an SHB
//! with a byte-order magic) walks the file block by block through the
//! windowed [`Input`], reading only each block's header, its trailing length
//! and the first bytes of packet blocks; the blocks the section prefix keeps
//! (SHB, IDB, DSB) are read whole. The decoding, the prefix and the piece
//! plans are the pure layer in [`crate::pcapng`] (docs/pcapng.md).
//!
//! * [`check`]: per-type counts, interfaces, packets, timestamps, damage
//! * [`split`]: pieces = section prefix + whole blocks, never over `--size`
//! * [`recover`]: the longest prefix of whole, valid blocks
//! * join lives in `records::join::pcapng` (it shares the set checks)

pub(crate) mod check;
pub(crate) mod recover;
pub(crate) mod split;

use super::input::Input;
use super::layout::{LayoutKind, LayoutOpts};
use crate::error::{Error, Result};
use crate::pcapng::block::check_body;
use crate::pcapng::{
    BlockHeader, DEFAULT_MAX_BLOCK, DSB, Damage, EPB, Endian, IDB, PB, SHB, SPB, decode_header,
    detect, looks_like_pcapng,
};

/// Bytes of a non-prefix block read for the walk: enough for every fixed
/// field `check` decodes and for a packet's fingerprint.
const HEAD: usize = 64;

/// Blocks up to this long are looked at through one slice of the input's
/// window (longer ones: the trailer, then the head, so a big block never
/// needs a window of its size).
const ONE_SLICE: u64 = 64 << 10;

/// Bytes of a packet block that make its fingerprint (timestamps, lengths
/// and the first packet bytes).
pub(crate) const FINGERPRINT_LEN: usize = 32;

/// Does this file go through the pcapng path? `--layout pcapng` insists
/// (a file that is not pcapng is an error at offset 0); `auto` looks at the
/// SHB type and the byte-order magic.
pub(crate) fn wanted(src: &Input, opts: &LayoutOpts) -> Result<bool> {
    if !matches!(opts.layout, LayoutKind::Pcapng | LayoutKind::Auto) {
        return Ok(false);
    }
    let mut head = vec![0u8; src.len().min(24) as usize];
    src.read_exact_at(&mut head, 0)?;
    if opts.layout == LayoutKind::Pcapng {
        detect(&head).map_err(|e| Error::malformed(e.to_string()).with_path(src.path()).at(0))?;
    } else if !looks_like_pcapng(&head) {
        return Ok(false);
    }
    opts.refuse_contradictions()?;
    opts.refuse_for_pcapng()?;
    Ok(true)
}

/// The largest sane block: `--max-record`, else 64 MiB.
pub(crate) fn max_block(opts: &LayoutOpts) -> u32 {
    opts.max_record
        .map_or(DEFAULT_MAX_BLOCK, |m| m.min(u64::from(u32::MAX)) as u32)
}

/// Is this a packet block (EPB, SPB, obsolete PB)?
pub(crate) fn is_packet(block_type: u32) -> bool {
    matches!(block_type, EPB | SPB | PB)
}

/// May a piece that reached `--records` (or `--seconds`) close before a
/// block of this type? Not before an Interface Statistics Block (dumpcap
/// writes them after the packets they count, at the end of a capture) nor
/// before a block that is not copied.
pub(crate) fn closes_before(block_type: u32) -> bool {
    block_type != crate::pcapng::ISB
        && crate::pcapng::section::disposition(block_type)
            != crate::pcapng::section::Disposition::Drop
}

/// A whole, valid block found by [`BlockWalk`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blk {
    pub(crate) offset: u64,
    pub(crate) header: BlockHeader,
}

impl Blk {
    pub(crate) fn len(&self) -> u64 {
        u64::from(self.header.total_len)
    }
    pub(crate) fn end(&self) -> u64 {
        self.offset + self.len()
    }
}

/// Walks the blocks of `[start, end)` of an input, following section byte
/// orders; the first damage is an error (kind Malformed) naming its offset.
pub(crate) struct BlockWalk {
    pos: u64,
    end: u64,
    section: Option<Endian>,
    max: u32,
    buf: Vec<u8>,
}

impl BlockWalk {
    pub(crate) fn new(start: u64, end: u64, max: u32) -> BlockWalk {
        BlockWalk {
            pos: start,
            end,
            section: None,
            max,
            buf: Vec::new(),
        }
    }

    /// Starts inside a section of byte order `e` (a piece's body, after its prefix).
    pub(crate) fn in_section(mut self, e: Option<Endian>) -> BlockWalk {
        self.section = e;
        self
    }

    /// The last block's bytes: the whole block for an SHB, IDB or DSB, its
    /// first [`HEAD`] bytes (or fewer, when shorter) for any other type.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The next block, `None` at the end.
    pub(crate) fn next(&mut self, src: &mut Input) -> Result<Option<Blk>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let offset = self.pos;
        match self.block(src)? {
            Ok(header) => {
                if header.block_type == SHB {
                    self.section = Some(header.endian);
                }
                self.pos += u64::from(header.total_len);
                Ok(Some(Blk { offset, header }))
            }
            Err(d) => Err(Error::malformed(d.to_string())
                .with_path(src.path())
                .at(offset)),
        }
    }

    fn block(&mut self, src: &mut Input) -> Result<std::result::Result<BlockHeader, Damage>> {
        let left = self.end - self.pos;
        let head = src.bytes(self.pos, left.min(16) as usize)?;
        let h = match decode_header(head, self.section, self.max) {
            Ok(h) => h,
            Err(d) => return Ok(Err(d)),
        };
        let len = u64::from(h.total_len);
        if len > left {
            return Ok(Err(Damage::Truncated {
                need: len,
                have: left,
            }));
        }
        self.buf.clear();
        if len <= ONE_SLICE {
            // One slice of the window for the trailer and the head: two
            // lookups per block instead of three (check: 1/3 less time).
            let b = src.bytes(self.pos, h.byte_len())?;
            if let Err(d) = h.check_trailer(&b[b.len() - 4..]) {
                return Ok(Err(d));
            }
            let n = if matches!(h.block_type, SHB | IDB | DSB) {
                b.len()
            } else {
                b.len().min(HEAD)
            };
            self.buf.extend_from_slice(&b[..n]);
            return Ok(check_body(&h, &self.buf)).map(|r| r.map(|()| h));
        }
        if let Err(d) = h.check_trailer(src.bytes(self.pos + len - 4, 4)?) {
            return Ok(Err(d));
        }
        if matches!(h.block_type, SHB | IDB | DSB) {
            // Kept by the section prefix; small and rare (pread, not the window).
            self.buf.resize(h.byte_len(), 0);
            src.read_exact_at(&mut self.buf, self.pos)?;
        } else {
            let n = h.byte_len().min(HEAD);
            self.buf.extend_from_slice(src.bytes(self.pos, n)?);
        }
        Ok(check_body(&h, &self.buf)).map(|r| r.map(|()| h))
    }
}
