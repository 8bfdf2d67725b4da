//! pcapng (draft-ietf-opsawg-pcapng) support, as a self-contained layer over
//! byte slices: detection, block framing and damage, the per-section prefix
//! every split piece begins with, the join-side recognition of that prefix,
//! and `check` statistics. No file I/O, no mapping, no CLI: the caller hands
//! in the bytes of a block (or the first bytes of a file or piece) and its
//! offset. See docs/pcapng.md for the split/join design.
//!
//! Every field is decoded with `from_le_bytes`/`from_be_bytes` on slices, in
//! the byte order of the block's section; nothing is read through a pointer,
//! so options at odd offsets are safe on MIPS and ARMv5.

// Driven by `records::pcapng` (check, split) and `records::join::pcapng`;
// `pub` in lib.rs, so the parts `recover` will use need no dead-code allowance.

pub mod block;
pub mod plan;
pub mod section;
pub mod stats;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod testutil;

use std::fmt;

pub use block::{
    Block, BlockHeader, DEFAULT_MAX_BLOCK, Damage, Walker, decode, decode_header, valid_prefix_len,
};
pub use plan::{Chunk, PiecePlan, Splitter, TooSmall};
pub use section::{Disposition, JoinError, Joiner, Prefix};
pub use stats::{Interface, PacketInfo, Stats, Timestamp, TsResol};

/// Section Header Block type; a palindrome, so it reads the same in both byte orders.
pub const SHB: u32 = 0x0A0D_0D0A;
/// Interface Description Block.
pub const IDB: u32 = 0x0000_0001;
/// Packet Block (obsolete).
pub const PB: u32 = 0x0000_0002;
/// Simple Packet Block.
pub const SPB: u32 = 0x0000_0003;
/// Name Resolution Block.
pub const NRB: u32 = 0x0000_0004;
/// Interface Statistics Block.
pub const ISB: u32 = 0x0000_0005;
/// Enhanced Packet Block.
pub const EPB: u32 = 0x0000_0006;
/// Decryption Secrets Block.
pub const DSB: u32 = 0x0000_000A;
/// Custom block that may be copied to a modified file.
pub const CUSTOM_COPY: u32 = 0x0000_0BAD;
/// Custom block that must not be copied to a modified file (dropped by split).
pub const CUSTOM_NO_COPY: u32 = 0x4000_0BAD;
/// Byte-order magic, as read in the section's own byte order.
pub const BOM: u32 = 0x1A2B_3C4D;
/// Bytes of an SHB before its options: header 8, BOM 4, version 2+2, section length 8.
pub const SHB_FIXED: usize = 24;

/// Byte order of a section, from its SHB's byte-order magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The u16 at `off` in `b`, or `None` when `b` is too short.
    pub fn u16_at(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    /// The u32 at `off` in `b`, or `None` when `b` is too short.
    pub fn u32_at(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    /// The u64 at `off` in `b`, or `None` when `b` is too short.
    pub fn u64_at(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }

    /// `v` encoded in this byte order.
    pub fn u64_bytes(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    /// The byte order whose reading of the 4 bytes `bom` is [`BOM`].
    pub fn from_bom(bom: [u8; 4]) -> Option<Endian> {
        if u32::from_le_bytes(bom) == BOM {
            Some(Endian::Little)
        } else if u32::from_be_bytes(bom) == BOM {
            Some(Endian::Big)
        } else {
            None
        }
    }
}

/// What the first bytes of a pcapng file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub endian: Endian,
    pub major: u16,
    pub minor: u16,
}

/// Why the first bytes are not a readable pcapng file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectError {
    /// Fewer bytes than a Section Header Block's fixed part (24).
    TooShort { have: usize },
    /// The first 4 bytes are not the SHB type 0x0A0D0D0A.
    NotPcapng { first: [u8; 4] },
    /// SHB type present, but bytes 8..12 are not 0x1A2B3C4D in either order.
    BadBom { bom: [u8; 4] },
    /// A major version other than 1 (the layout of every block may differ).
    UnsupportedVersion { major: u16, minor: u16 },
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetectError::TooShort { have } => write!(
                f,
                "{have} bytes: too short for a pcapng Section Header Block ({SHB_FIXED} bytes at least)"
            ),
            DetectError::NotPcapng { first } => write!(
                f,
                "not pcapng: starts with {first:02x?}, a Section Header Block starts with 0a 0d 0d 0a"
            ),
            DetectError::BadBom { bom } => write!(
                f,
                "pcapng Section Header Block with a bad byte-order magic {bom:02x?} (want 1a2b3c4d in either byte order)"
            ),
            DetectError::UnsupportedVersion { major, minor } => {
                write!(
                    f,
                    "pcapng version {major}.{minor} is not supported (only 1.x)"
                )
            }
        }
    }
}

impl std::error::Error for DetectError {}

/// Cheap test for `--layout auto`: the SHB type then a valid byte-order magic.
pub fn looks_like_pcapng(head: &[u8]) -> bool {
    head.len() >= 12
        && head[0..4] == SHB.to_le_bytes()
        && head[8..12]
            .try_into()
            .ok()
            .and_then(Endian::from_bom)
            .is_some()
}

/// Reads the first bytes of a file (at least [`SHB_FIXED`]): the SHB type, the
/// byte-order magic (either order) and a 1.x version.
pub fn detect(head: &[u8]) -> Result<Detected, DetectError> {
    let first: [u8; 4] = match head.get(0..4).and_then(|s| s.try_into().ok()) {
        Some(a) => a,
        None => return Err(DetectError::TooShort { have: head.len() }),
    };
    if first != SHB.to_le_bytes() {
        return Err(DetectError::NotPcapng { first });
    }
    if head.len() < SHB_FIXED {
        return Err(DetectError::TooShort { have: head.len() });
    }
    let mut bom = [0u8; 4];
    bom.copy_from_slice(&head[8..12]);
    let endian = Endian::from_bom(bom).ok_or(DetectError::BadBom { bom })?;
    let major = endian.u16_at(head, 12).unwrap_or(0);
    let minor = endian.u16_at(head, 14).unwrap_or(0);
    if major != 1 {
        return Err(DetectError::UnsupportedVersion { major, minor });
    }
    Ok(Detected {
        endian,
        major,
        minor,
    })
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn detects_both_byte_orders() {
        for e in [Endian::Little, Endian::Big] {
            let f = shb(e, -1, &[]);
            assert!(looks_like_pcapng(&f));
            let d = detect(&f).expect("valid SHB");
            assert_eq!(d.endian, e);
            assert_eq!((d.major, d.minor), (1, 0));
        }
    }

    #[test]
    fn detect_errors() {
        assert_eq!(
            detect(&[0x0a, 0x0d]),
            Err(DetectError::TooShort { have: 2 })
        );
        let pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        assert!(matches!(detect(&pcap), Err(DetectError::NotPcapng { .. })));
        assert!(!looks_like_pcapng(&pcap));
        let mut f = shb(Endian::Little, -1, &[]);
        assert_eq!(detect(&f[..20]), Err(DetectError::TooShort { have: 20 }));
        f[8] = 0;
        assert!(matches!(detect(&f), Err(DetectError::BadBom { .. })));
        assert!(!looks_like_pcapng(&f));
        let mut g = shb(Endian::Big, -1, &[]);
        g[12..14].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(
            detect(&g),
            Err(DetectError::UnsupportedVersion { major: 2, minor: 0 })
        );
        assert!(
            DetectError::UnsupportedVersion { major: 2, minor: 0 }
                .to_string()
                .contains("2.0")
        );
    }

    #[test]
    fn reads_at_odd_offsets() {
        let b = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(Endian::Little.u32_at(&b, 1), Some(0x0403_0201));
        assert_eq!(Endian::Big.u32_at(&b, 3), Some(0x0304_0506));
        assert_eq!(Endian::Big.u16_at(&b, 9), None);
        assert_eq!(Endian::Little.u64_at(&b, 3), None);
        assert_eq!(Endian::Little.u32_at(&b, usize::MAX - 1), None);
    }
}
