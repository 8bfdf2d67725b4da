//! pcapng on the stream path (`tshark -w - | mmkit split -`, `--follow` on
//! a growing pcapng file): the framing of blocks as they arrive and the
//! section prefix every piece begins with.
//!
//! The first Section Header Block (Section Length -1) is the first piece's
//! header. Each later block is checked as it arrives (its header before it
//! is written, its contents' lengths from its first bytes, its trailing
//! length when it ends) and written through to the sink like a record; the
//! blocks the prefix keeps (SHB, IDB, DSB) are gathered whole first (they
//! are small). After each, the sink's header becomes the prefix as it then
//! stands (as [`Prefix`] in the split of a file: grown in place, one copy),
//! so the pieces are the file split's and join back to the stream. Memory:
//! the prefix (at most [`PREFIX_MAX`]), one block head and the trailer,
//! whatever the stream's length.
//!
//! A block that does not fit in `--size` after the prefix stops the stream
//! (exit 2), and so does a prefix that would outgrow [`PREFIX_MAX`] (exit
//! 10); the pieces before the block are kept.

use super::Walk;
use super::sink::Sink;
use super::source::{Event, Source};
use crate::error::{Error, Kind, Result};
use crate::pcapng::block::check_body;
use crate::pcapng::section::{Disposition, set_unknown_section_length};
use crate::pcapng::{BlockHeader, DSB, Endian, IDB, Prefix, SHB, decode_header};
use crate::records::pcapng::{FINGERPRINT_LEN, is_packet};

/// Bytes of a block other than SHB, IDB, DSB gathered before it is written:
/// enough for the contents' lengths `check_body` reads and the fingerprint.
const HEAD: usize = 64;

/// The largest section prefix a stream split holds (its SHB, IDBs and
/// DSBs so far), in bytes.
pub(crate) const PREFIX_MAX: u64 = 8 << 20;

/// Refuses a block that the prefix cannot take in `PREFIX_MAX` bytes, or
/// that does not fit next to the prefix in `size`; `prefix` is the prefix's
/// length before the block.
fn fits(h: &BlockHeader, prefix: u64, size: u64, at: u64) -> Result<()> {
    let len = u64::from(h.total_len);
    let kept = if h.block_type == SHB { 0 } else { prefix };
    let t = h.block_type;
    if t != crate::pcapng::CUSTOM_NO_COPY && prefix + len > size {
        return Err(Error::usage(format!(
            "the block at byte {at} ({len} bytes) does not fit in --size {size} after the {prefix}-byte section prefix every piece of its section begins with: --size {} or more gets past it; the pieces before it are kept",
            prefix + len
        ))
        .at(at));
    }
    if matches!(t, SHB | IDB | DSB) && kept + len > PREFIX_MAX {
        return Err(Error::new(
            Kind::NoMemory,
            format!(
                "the section prefix (SHB, IDBs and DSBs so far: {kept} bytes) would grow past the {PREFIX_MAX} bytes a stream split holds with this {len}-byte block; the pieces before it are kept"
            ),
        )
        .at(at));
    }
    Ok(())
}

/// Reads the stream's first Section Header Block: the first piece's header
/// (Section Length -1) and the prefix it starts.
pub(super) fn read_shb(w: &mut Walk, src: &mut Source, max: u32) -> Result<(Vec<u8>, Prefix)> {
    let at = w.offset;
    let mut b = Vec::new();
    let h = match gather(w, src, &mut b, 16)? {
        true => decode_header(&b, None, max).map_err(|d| damage(d, at))?,
        false => return Err(ended_in_header(&b, at)),
    };
    fits(&h, 0, u64::MAX, at)?;
    if !gather(w, src, &mut b, h.byte_len())? {
        return Err(ended_in_header(&b, at));
    }
    h.check_trailer(&b[b.len() - 4..])
        .map_err(|d| damage(d, at))?;
    let mut prefix = Prefix::new();
    prefix.feed(SHB, &b);
    set_unknown_section_length(&mut b, h.endian);
    Ok((b, prefix))
}

fn ended_in_header(b: &[u8], at: u64) -> Error {
    Error::malformed(format!(
        "the stream ended after {} bytes, inside its first Section Header Block",
        b.len()
    ))
    .at(at)
}

fn damage(d: crate::pcapng::Damage, at: u64) -> Error {
    Error::malformed(d.to_string()).at(at)
}

/// Moves buffered bytes into `b` until it holds `need` (false: the stream
/// ended first; a signal before the header is whole is an error).
fn gather(w: &mut Walk, src: &mut Source, b: &mut Vec<u8>, need: usize) -> Result<bool> {
    loop {
        take_into(w, b, need);
        if b.len() >= need {
            return Ok(true);
        }
        match w.fill(src, None)? {
            Event::Data(_) => {}
            Event::Stop(sig) => {
                return Err(Error::new(
                    Kind::Io,
                    format!(
                        "interrupted by signal {sig} before the Section Header Block was complete"
                    ),
                ));
            }
            Event::End | Event::Timeout => return Ok(false),
        }
    }
}

/// Moves up to `need - b.len()` buffered bytes into `b`.
fn take_into(w: &mut Walk, b: &mut Vec<u8>, need: usize) {
    let n = need.saturating_sub(b.len()).min(w.avail().len());
    b.extend_from_slice(&w.avail()[..n]);
    w.take(n);
}

/// Where the block being received is.
enum State {
    /// Gathering its header (8 bytes, 16 for an SHB).
    Header,
    /// Gathering its first `need` bytes (the whole block for SHB, IDB, DSB).
    Head { h: BlockHeader, need: usize },
    /// Written up to its trailer: `left` body bytes still to pass through,
    /// then the 4-byte trailer (`keep`: written, not dropped).
    Body {
        h: BlockHeader,
        left: u64,
        keep: bool,
    },
}

/// The stream's blocks after the first SHB, into the sink, until its end
/// or a signal (returned). Damage is an error once the blocks before it
/// are safe (the caller finishes the sink either way, which cuts the piece
/// at its last whole block).
pub(super) fn pump(
    w: &mut Walk,
    src: &mut Source,
    sink: &mut Sink,
    prefix: Prefix,
    max: u32,
) -> Result<Option<i32>> {
    // The prefix lives on as the sink's header (it starts as the SHB).
    let mut sec = Section {
        endian: prefix.endian(),
        idb_end: sink.header_mut().len(),
    };
    drop(prefix);
    let mut state = State::Header;
    let mut b: Vec<u8> = Vec::with_capacity(HEAD);
    let mut start = w.offset;
    loop {
        while !w.avail().is_empty() {
            state = match state {
                State::Header => {
                    if b.is_empty() {
                        start = w.offset;
                    }
                    take_into(w, &mut b, 8);
                    let shb = b.len() >= 8 && b[..4] == SHB.to_le_bytes();
                    if shb {
                        take_into(w, &mut b, 16);
                    }
                    if b.len() < if shb { 16 } else { 8 } {
                        State::Header
                    } else {
                        let h = decode_header(&b, sec.endian, max).map_err(|d| damage(d, start))?;
                        let hdr = sink.header_mut().len() as u64;
                        fits(&h, hdr, sink.rotation.size, start)?;
                        let need = if matches!(h.block_type, SHB | IDB | DSB) {
                            h.byte_len()
                        } else {
                            h.byte_len().min(HEAD)
                        };
                        State::Head { h, need }
                    }
                }
                State::Head { h, need } => {
                    take_into(w, &mut b, need);
                    if b.len() < need {
                        State::Head { h, need }
                    } else {
                        let keep = begin(sink, &h, &mut b, start)?;
                        let left = u64::from(h.total_len) - need as u64;
                        if left == 0 {
                            end(sink, &mut sec, &h, &b);
                            b.clear();
                            State::Header
                        } else {
                            b.clear();
                            State::Body { h, left, keep }
                        }
                    }
                }
                State::Body { h, left, keep } if left > 4 => {
                    let n = (w.avail().len() as u64).min(left - 4) as usize;
                    if keep {
                        sink.write(&w.avail()[..n])?;
                    }
                    w.take(n);
                    State::Body {
                        h,
                        left: left - n as u64,
                        keep,
                    }
                }
                State::Body { h, left, keep } => {
                    take_into(w, &mut b, 4);
                    if b.len() < 4 {
                        State::Body { h, left, keep }
                    } else {
                        h.check_trailer(&b).map_err(|d| damage(d, start))?;
                        if keep {
                            sink.write(&b)?;
                        }
                        end(sink, &mut sec, &h, &[]);
                        b.clear();
                        State::Header
                    }
                }
            };
        }
        sink.tick()?;
        w.show(sink);
        let mid_block = !b.is_empty() || !matches!(state, State::Header);
        let deadline = if mid_block { None } else { sink.deadline() };
        match w.fill(src, deadline)? {
            Event::Data(_) => {}
            Event::Timeout => sink.close()?,
            Event::Stop(sig) => return Ok(Some(sig)),
            Event::End => {
                if mid_block {
                    return Err(Error::malformed(format!(
                        "the stream ended inside a block ({} of its bytes received); the blocks before it are kept",
                        w.offset - start
                    ))
                    .at(start));
                }
                return Ok(None);
            }
        }
    }
}

/// A block's first bytes `b` are here: check what they can tell (the
/// trailer too when `b` is the whole block), open or rotate the piece, and
/// write them (an SHB with Section Length -1; a custom block marked not to
/// be copied is not written: false).
fn begin(sink: &mut Sink, h: &BlockHeader, b: &mut [u8], start: u64) -> Result<bool> {
    if b.len() == h.byte_len() {
        h.check_trailer(&b[b.len() - 4..])
            .map_err(|d| damage(d, start))?;
    }
    check_body(h, b).map_err(|d| damage(d, start))?;
    match crate::pcapng::section::disposition(h.block_type) {
        Disposition::Drop => return Ok(false),
        Disposition::UnknownSectionLength => set_unknown_section_length(b, h.endian),
        Disposition::Copy => {}
    }
    // Nothing is held back: every byte of a block is written as it arrives.
    sink.begin_block(
        u64::from(h.total_len),
        &b[..b.len().min(FINGERPRINT_LEN)],
        &[],
        crate::records::pcapng::closes_before(h.block_type),
    )?;
    sink.write(b)?;
    Ok(true)
}

/// Where the IDBs of the prefix held as the sink's header end (the DSBs
/// follow them), and the section's byte order.
struct Section {
    endian: Option<Endian>,
    idb_end: usize,
}

/// The block is whole and written: count it, and let the prefix follow
/// (`whole` is the whole block for SHB, IDB, DSB).
fn end(sink: &mut Sink, sec: &mut Section, h: &BlockHeader, whole: &[u8]) {
    if crate::pcapng::section::disposition(h.block_type) != Disposition::Drop {
        sink.end_block(is_packet(h.block_type));
    }
    let p = sink.header_mut();
    match h.block_type {
        SHB => {
            p.clear();
            p.extend_from_slice(whole);
            set_unknown_section_length(p, h.endian);
            sec.endian = Some(h.endian);
            sec.idb_end = p.len();
        }
        IDB => {
            // Before the DSBs: one move of their bytes, no copy of the prefix.
            p.extend_from_slice(whole);
            p[sec.idb_end..].rotate_right(whole.len());
            sec.idb_end += whole.len();
        }
        DSB => p.extend_from_slice(whole),
        _ => {}
    }
}
