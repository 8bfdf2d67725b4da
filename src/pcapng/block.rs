//! Block framing: the 8-byte header (type, total length), the trailing copy
//! of the length, the fixed part every known type needs, and the options
//! list. A block is "whole and valid" when all of these hold; the first one
//! that does not is damage at that block's offset.

use std::fmt;

use super::{CUSTOM_COPY, CUSTOM_NO_COPY, DSB, EPB, Endian, IDB, ISB, PB, SHB, SPB};

/// The default largest sane block (64 MiB, mmkit's default `--max-record`).
pub const DEFAULT_MAX_BLOCK: u32 = 64 << 20;

/// A decoded block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    pub block_type: u32,
    /// Total length, header and trailer included: a multiple of 4, at least 12.
    pub total_len: u32,
    /// Byte order of the block (for an SHB: the one its byte-order magic says).
    pub endian: Endian,
}

/// Why the bytes at a block start are not a whole, valid block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The data ends before the header (`need` bytes) or the block does.
    Truncated { need: u64, have: u64 },
    /// A block before any Section Header Block (byte order unknown).
    NoSection { block_type: u32 },
    /// Total length under 12.
    TooShort { len: u32 },
    /// Total length not a multiple of 4.
    NotMultipleOf4 { len: u32 },
    /// Total length over the configured maximum.
    TooLong { len: u32, max: u32 },
    /// Total length under what the block's type needs for its fixed fields.
    TooShortForType { block_type: u32, len: u32, min: u32 },
    /// The contents (a captured length, a secrets length) overrun the block.
    ContentOverrun {
        block_type: u32,
        len: u32,
        need: u64,
    },
    /// SHB whose byte-order magic is not 0x1A2B3C4D in either order.
    BadBom { bom: [u8; 4] },
    /// SHB of a major version other than 1.
    UnsupportedVersion { major: u16, minor: u16 },
    /// The trailing length differs from the leading one.
    TrailerMismatch { lead: u32, trail: u32 },
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Damage::Truncated { need, have } => {
                write!(f, "truncated block: needs {need} bytes, {have} left")
            }
            Damage::NoSection { block_type } => write!(
                f,
                "block type {block_type:#010x} before any Section Header Block"
            ),
            Damage::TooShort { len } => write!(f, "block total length {len} is under 12"),
            Damage::NotMultipleOf4 { len } => {
                write!(f, "block total length {len} is not a multiple of 4")
            }
            Damage::TooLong { len, max } => {
                write!(f, "absurd block total length {len} (max {max})")
            }
            Damage::TooShortForType {
                block_type,
                len,
                min,
            } => write!(
                f,
                "block type {block_type:#010x}: total length {len} under its minimum {min}"
            ),
            Damage::ContentOverrun {
                block_type,
                len,
                need,
            } => write!(
                f,
                "block type {block_type:#010x}: contents need {need} bytes, total length is {len}"
            ),
            Damage::BadBom { bom } => write!(
                f,
                "Section Header Block with a bad byte-order magic {bom:02x?}"
            ),
            Damage::UnsupportedVersion { major, minor } => write!(
                f,
                "Section Header Block version {major}.{minor} (only 1.x is supported)"
            ),
            Damage::TrailerMismatch { lead, trail } => write!(
                f,
                "trailing block length {trail} differs from the leading {lead}"
            ),
        }
    }
}

impl std::error::Error for Damage {}

/// Smallest total length of a block of this type (fixed fields + 12).
pub fn min_len(block_type: u32) -> u32 {
    match block_type {
        SHB => 28,
        IDB => 20,
        PB => 32,
        SPB => 16,
        ISB => 24,
        EPB => 32,
        DSB => 20,
        CUSTOM_COPY | CUSTOM_NO_COPY => 16,
        _ => 12,
    }
}

/// Decodes the header at a block start. `head` holds at least 8 bytes (16 for
/// an SHB: its byte-order magic and version decide how to read its length);
/// `section` is the byte order of the current section (`None` before the first
/// SHB). `max` is the largest acceptable total length.
pub fn decode_header(
    head: &[u8],
    section: Option<Endian>,
    max: u32,
) -> Result<BlockHeader, Damage> {
    let truncated = |need: u64| Damage::Truncated {
        need,
        have: head.len() as u64,
    };
    let first: [u8; 4] = head
        .get(0..4)
        .and_then(|s| s.try_into().ok())
        .ok_or(truncated(8))?;
    let endian = if first == SHB.to_le_bytes() {
        let bom: [u8; 4] = head
            .get(8..12)
            .and_then(|s| s.try_into().ok())
            .ok_or(truncated(16))?;
        let e = Endian::from_bom(bom).ok_or(Damage::BadBom { bom })?;
        let (major, minor) = match (e.u16_at(head, 12), e.u16_at(head, 14)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err(truncated(16)),
        };
        if major != 1 {
            return Err(Damage::UnsupportedVersion { major, minor });
        }
        e
    } else {
        match section {
            Some(e) => e,
            None => {
                return Err(Damage::NoSection {
                    block_type: u32::from_le_bytes(first),
                });
            }
        }
    };
    let block_type = endian.u32_at(head, 0).ok_or(truncated(8))?;
    let total_len = endian.u32_at(head, 4).ok_or(truncated(8))?;
    if total_len < 12 {
        return Err(Damage::TooShort { len: total_len });
    }
    if total_len % 4 != 0 {
        return Err(Damage::NotMultipleOf4 { len: total_len });
    }
    if total_len > max {
        return Err(Damage::TooLong {
            len: total_len,
            max,
        });
    }
    let min = min_len(block_type);
    if total_len < min {
        return Err(Damage::TooShortForType {
            block_type,
            len: total_len,
            min,
        });
    }
    Ok(BlockHeader {
        block_type,
        total_len,
        endian,
    })
}

impl BlockHeader {
    /// Total length as a `usize`.
    pub fn byte_len(&self) -> usize {
        self.total_len as usize
    }

    /// Compares the 4 bytes at the block's claimed end with the leading length.
    pub fn check_trailer(&self, tail: &[u8]) -> Result<(), Damage> {
        let trail = self.endian.u32_at(tail, 0).ok_or(Damage::Truncated {
            need: 4,
            have: tail.len() as u64,
        })?;
        if trail != self.total_len {
            return Err(Damage::TrailerMismatch {
                lead: self.total_len,
                trail,
            });
        }
        Ok(())
    }
}

/// Header then trailer: the whole framing verdict from the bytes at a block
/// start and the 4 bytes at `total_len - 4` from it.
pub fn decode(
    head: &[u8],
    tail: &[u8],
    section: Option<Endian>,
    max: u32,
) -> Result<BlockHeader, Damage> {
    let h = decode_header(head, section, max)?;
    h.check_trailer(tail)?;
    Ok(h)
}

/// Checks the contents that a length inside the block governs (EPB and PB
/// captured length, DSB secrets length); `block` is the whole block.
pub fn check_body(h: &BlockHeader, block: &[u8]) -> Result<(), Damage> {
    let (len_off, fixed) = match h.block_type {
        EPB => (20, 28u64),
        PB => (20, 28),
        DSB => (12, 16),
        _ => return Ok(()),
    };
    let n = h.endian.u32_at(block, len_off).ok_or(Damage::Truncated {
        need: u64::from(h.total_len),
        have: block.len() as u64,
    })?;
    let need = fixed + u64::from(n).div_ceil(4) * 4 + 4;
    if need > u64::from(h.total_len) {
        return Err(Damage::ContentOverrun {
            block_type: h.block_type,
            len: h.total_len,
            need,
        });
    }
    Ok(())
}

/// A whole, valid block found by [`Walker`].
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// Offset of the block from the start of the walked bytes (plus `base`).
    pub offset: u64,
    pub header: BlockHeader,
    /// The whole block, header and trailer included.
    pub bytes: &'a [u8],
}

/// Walks the blocks of a byte slice holding whole pcapng data (a file or a
/// piece), following section byte orders; stops after the first damage.
pub struct Walker<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    section: Option<Endian>,
    max: u32,
    done: bool,
}

impl<'a> Walker<'a> {
    /// Walks `data`, whose first byte is at file offset `base`.
    pub fn new(data: &'a [u8], base: u64, max: u32) -> Self {
        Walker {
            data,
            pos: 0,
            base,
            section: None,
            max,
            done: false,
        }
    }

    /// Starts inside a section of byte order `e` (the body of a piece, after
    /// its prefix; the walk of the previous bytes said which order).
    pub fn in_section(mut self, e: Option<Endian>) -> Self {
        self.section = e;
        self
    }

    /// Byte order of the section the walk is in.
    pub fn section(&self) -> Option<Endian> {
        self.section
    }

    /// Bytes of whole, valid blocks returned so far.
    pub fn valid_len(&self) -> usize {
        self.pos
    }

    fn next_block(&mut self) -> Result<Block<'a>, Damage> {
        let rest = &self.data[self.pos..];
        let h = decode_header(rest, self.section, self.max)?;
        let bytes = rest.get(..h.byte_len()).ok_or(Damage::Truncated {
            need: u64::from(h.total_len),
            have: rest.len() as u64,
        })?;
        h.check_trailer(&bytes[h.byte_len() - 4..])?;
        check_body(&h, bytes)?;
        Ok(Block {
            offset: self.base + self.pos as u64,
            header: h,
            bytes,
        })
    }
}

impl<'a> Iterator for Walker<'a> {
    /// A block, or damage with its byte offset (then the walk ends).
    type Item = Result<Block<'a>, (u64, Damage)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.data.len() {
            return None;
        }
        match self.next_block() {
            Ok(b) => {
                if b.header.block_type == SHB {
                    self.section = Some(b.header.endian);
                }
                self.pos += b.bytes.len();
                Some(Ok(b))
            }
            Err(d) => {
                self.done = true;
                Some(Err((self.base + self.pos as u64, d)))
            }
        }
    }
}

/// `recover`: the length of the longest prefix of `data` made of whole, valid
/// blocks (0 when the first block is not a valid SHB).
pub fn valid_prefix_len(data: &[u8], max: u32) -> usize {
    let mut w = Walker::new(data, 0, max);
    while let Some(Ok(_)) = w.next() {}
    w.valid_len()
}

/// Iterates the options of a block from `start` (the first option) to the
/// trailer: (code, value) pairs up to opt_endofopt; stops at a malformed one.
pub struct Options<'a> {
    block: &'a [u8],
    pos: usize,
    end: usize,
    endian: Endian,
}

/// The options of `block` (a whole block) starting at byte `start`.
pub fn options(block: &[u8], start: usize, endian: Endian) -> Options<'_> {
    Options {
        block,
        pos: start,
        end: block.len().saturating_sub(4),
        endian,
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos.checked_add(4)? > self.end {
            return None;
        }
        let code = self.endian.u16_at(self.block, self.pos)?;
        let len = usize::from(self.endian.u16_at(self.block, self.pos + 2)?);
        if code == 0 {
            return None;
        }
        let start = self.pos + 4;
        let stop = start + len;
        if stop > self.end {
            self.pos = self.end;
            return None;
        }
        self.pos = start + len.div_ceil(4) * 4;
        Some((code, &self.block[start..stop]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    const MAX: u32 = DEFAULT_MAX_BLOCK;

    #[test]
    fn header_le_and_be() {
        for e in [Endian::Little, Endian::Big] {
            let s = shb(e, 1234, &[]);
            let h = decode(&s, &s[s.len() - 4..], None, MAX).expect("SHB");
            assert_eq!((h.block_type, h.byte_len(), h.endian), (SHB, s.len(), e));
            let b = epb(e, 0, 5, b"abc", &[]);
            let h = decode(&b[..8], &b[b.len() - 4..], Some(e), MAX).expect("EPB");
            assert_eq!((h.block_type, h.total_len), (EPB, 36));
            // The same bytes in the other section order give another length.
            let other = if e == Endian::Little {
                Endian::Big
            } else {
                Endian::Little
            };
            assert!(decode(&b[..8], &b[b.len() - 4..], Some(other), MAX).is_err());
        }
    }

    #[test]
    fn header_damage() {
        let e = Endian::Little;
        let with_len = |t: u32, n: u32| {
            let mut v = t.to_le_bytes().to_vec();
            v.extend_from_slice(&n.to_le_bytes());
            v
        };
        let d = |h: &[u8]| decode_header(h, Some(e), 4096).unwrap_err();
        assert_eq!(d(&with_len(EPB, 8)), Damage::TooShort { len: 8 });
        assert_eq!(d(&with_len(EPB, 34)), Damage::NotMultipleOf4 { len: 34 });
        assert_eq!(
            d(&with_len(EPB, 8192)),
            Damage::TooLong {
                len: 8192,
                max: 4096
            }
        );
        assert_eq!(
            d(&with_len(EPB, 28)),
            Damage::TooShortForType {
                block_type: EPB,
                len: 28,
                min: 32
            }
        );
        assert_eq!(d(&[6, 0, 0]), Damage::Truncated { need: 8, have: 3 });
        assert_eq!(
            decode_header(&with_len(EPB, 32), None, MAX),
            Err(Damage::NoSection { block_type: EPB })
        );
        let mut s = shb(e, -1, &[]);
        s[9] = 0x99;
        assert!(matches!(d(&s), Damage::BadBom { .. }));
        let mut s = shb(Endian::Big, -1, &[]);
        s[12..14].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(d(&s), Damage::UnsupportedVersion { major: 3, minor: 0 });
        assert_eq!(d(&s[..12]), Damage::Truncated { need: 16, have: 12 });
        let b = epb(e, 0, 0, b"xy", &[]);
        let h = decode_header(&b, Some(e), MAX).expect("header");
        assert_eq!(h.check_trailer(&36u32.to_le_bytes()), Ok(()));
        assert!(matches!(
            h.check_trailer(&[0, 0]),
            Err(Damage::Truncated { .. })
        ));
        assert_eq!(
            h.check_trailer(&40u32.to_le_bytes()),
            Err(Damage::TrailerMismatch {
                lead: 36,
                trail: 40
            })
        );
        assert!(
            Damage::TrailerMismatch {
                lead: 40,
                trail: 36
            }
            .to_string()
            .contains("36")
        );
    }

    #[test]
    fn walker_reports_damage_offset_and_recover_keeps_prefix() {
        let e = Endian::Big;
        let mut f = shb(e, -1, &[]);
        f.extend(idb(e, 1, 65535, &[]));
        let good_end = {
            f.extend(epb(e, 0, 1, b"hello", &[]));
            f.len()
        };
        let mut bad = epb(e, 0, 2, b"world!", &[]);
        let n = bad.len();
        bad[n - 1] ^= 4; // trailing copy differs
        f.extend(bad);
        f.extend(epb(e, 0, 3, b"after", &[]));
        let items: Vec<_> = Walker::new(&f, 100, MAX).collect();
        assert_eq!(items.len(), 4);
        assert!(items[..3].iter().all(|r| r.is_ok()));
        match &items[3] {
            Err((off, Damage::TrailerMismatch { .. })) => assert_eq!(*off, 100 + good_end as u64),
            other => panic!("expected trailer damage, got {other:?}"),
        }
        assert_eq!(valid_prefix_len(&f, MAX), good_end);
        // Cut inside a block: truncated at that block's offset.
        let cut = &f[..good_end + 10];
        let last = Walker::new(cut, 0, MAX).last();
        assert!(matches!(last, Some(Err((o, Damage::Truncated { .. }))) if o == good_end as u64));
        assert_eq!(valid_prefix_len(cut, MAX), good_end);
        assert_eq!(valid_prefix_len(&f[..10], MAX), 0);
    }

    #[test]
    fn content_overrun_is_damage() {
        let e = Endian::Little;
        let mut b = epb(e, 0, 0, b"abcd", &[]);
        b[20..24].copy_from_slice(&9u32.to_le_bytes()); // caplen 9 > 4 bytes held
        let mut f = shb(e, -1, &[]);
        let at = f.len() as u64;
        f.extend(b);
        let last = Walker::new(&f, 0, MAX).last();
        assert!(matches!(last, Some(Err((o, Damage::ContentOverrun { .. }))) if o == at));
    }

    #[test]
    fn options_at_odd_offsets_and_malformed() {
        for e in [Endian::Little, Endian::Big] {
            // An IDB placed at an odd offset of a buffer: options decode alike.
            let b = idb(
                e,
                1,
                96,
                &[(9, vec![0x89]), (14, 7i64.to_le_bytes().to_vec())],
            );
            let mut buf = vec![0u8; 3];
            buf.extend_from_slice(&b);
            let blk = &buf[3..];
            let got: Vec<_> = options(blk, 16, e).collect();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0], (9, &[0x89u8][..]));
            assert_eq!(got[1].0, 14);
        }
        // An option claiming more bytes than the block has ends the list.
        let e = Endian::Little;
        let mut b = idb(e, 1, 96, &[(2, b"eth0".to_vec())]);
        b[18..20].copy_from_slice(&200u16.to_le_bytes());
        assert_eq!(options(&b, 16, e).count(), 0);
    }
}
