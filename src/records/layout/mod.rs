//! Record layouts: where a file's header ends, how long each record is.
//!
//! A layout is a file header of `header_len` bytes followed by records, each
//! a `rec_header_len`-byte record header (holding the length field, and
//! optionally a magic/sync word and a sequence number) followed by a payload.
//!
//! All decoding goes through `from_le_bytes`/`from_be_bytes` on byte slices:
//! never a pointer cast, so odd offsets are safe on MIPS and ARMv5.

use crate::error::{Error, Result};

mod opts;
pub(crate) use opts::LayoutOpts;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl std::str::FromStr for Endian {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Endian, String> {
        match s {
            "le" | "little" => Ok(Endian::Little),
            "be" | "big" => Ok(Endian::Big),
            _ => Err(format!("bad endianness '{s}': use le or be")),
        }
    }
}

impl Endian {
    pub(crate) fn short(self) -> &'static str {
        match self {
            Endian::Little => "le",
            Endian::Big => "be",
        }
    }
}

/// Read an unsigned integer of `width` (1, 2, 4 or 8) bytes from the start
/// of `b`. Panics only if `b` is shorter than `width` (callers slice first).
pub(crate) fn read_uint(b: &[u8], width: u8, e: Endian) -> u64 {
    match (width, e) {
        (1, _) => b[0] as u64,
        (2, Endian::Little) => u16::from_le_bytes([b[0], b[1]]) as u64,
        (2, Endian::Big) => u16::from_be_bytes([b[0], b[1]]) as u64,
        (4, Endian::Little) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        (4, Endian::Big) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64,
        (8, Endian::Little) => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        (8, Endian::Big) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        _ => unreachable!("width validated by Layout::validate"),
    }
}

/// Write `v` as `width` bytes into the start of `b` (for the generator and tests).
pub(crate) fn write_uint(b: &mut [u8], width: u8, e: Endian, v: u64) {
    let w = width as usize;
    match e {
        Endian::Little => b[..w].copy_from_slice(&v.to_le_bytes()[..w]),
        Endian::Big => b[..w].copy_from_slice(&v.to_be_bytes()[8 - w..]),
    }
}

/// A magic (sync) word inside each record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Magic {
    pub(crate) offset: usize,
    pub(crate) width: u8,
    pub(crate) value: u64,
}

/// The layout named on the command line (`--layout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LayoutKind {
    /// pcapng when the file starts with a Section Header Block and a
    /// byte-order magic, pcap when it starts with a pcap magic, else seed (custom when
    /// `--rec-header-len` is given).
    #[default]
    Auto,
    Seed,
    Pcap,
    /// pcapng: walked block by block by `records::pcapng`, not a record layout.
    Pcapng,
    Custom,
}

impl std::str::FromStr for LayoutKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<LayoutKind, String> {
        match s {
            "auto" => Ok(LayoutKind::Auto),
            "seed" => Ok(LayoutKind::Seed),
            "pcap" => Ok(LayoutKind::Pcap),
            "pcapng" => Ok(LayoutKind::Pcapng),
            "custom" => Ok(LayoutKind::Custom),
            _ => Err(format!(
                "unknown layout '{s}': use auto, seed, pcap, pcapng or custom"
            )),
        }
    }
}

/// The `seed` layout's default sync word (see README).
pub(crate) const SEED_MAGIC: u64 = 0xEB90_146F;
/// Largest record (header + payload) accepted by default for seed/custom.
pub(crate) const DEFAULT_MAX_RECORD: u64 = 64 << 20;

pub(crate) const PCAP_MAGIC_US: u32 = 0xA1B2_C3D4;
pub(crate) const PCAP_MAGIC_NS: u32 = 0xA1B2_3C4D;
pub(crate) const PCAPNG_MAGIC: u32 = 0x0A0D_0D0A;
/// Bits 16-25 of the pcap link-type field: reserved (28-31 hold an FCS
/// length, 26 says it is there).
const PCAP_LINK_RESERVED: u64 = 0x03FF_0000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// "seed", "pcap" or "custom".
    pub(crate) name: &'static str,
    pub(crate) header_len: usize,
    pub(crate) rec_header_len: usize,
    pub(crate) len_offset: usize,
    pub(crate) len_width: u8,
    pub(crate) endian: Endian,
    /// The length field counts the record header too.
    pub(crate) len_includes_header: bool,
    pub(crate) magic: Option<Magic>,
    /// Offset of a 4-byte sequence number in the record header (seed).
    pub(crate) seq_offset: Option<usize>,
    /// Largest acceptable record, header included.
    pub(crate) max_record: u64,
    /// Accept records whose payload is empty.
    pub(crate) allow_empty: bool,
    /// pcap only: nanosecond timestamps.
    pub(crate) pcap_nanos: bool,
}

/// Why a record header was rejected.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadRecord {
    Magic {
        found: u64,
        want: u64,
    },
    Empty,
    TooShort {
        len: u64,
    },
    /// `len` is the length field, `total` the record with its header.
    TooLong {
        len: u64,
        total: u64,
        max: u64,
    },
    /// The length field plus the record header exceeds 2^64 - 1.
    Overflow {
        len: u64,
    },
}

impl BadRecord {
    pub(crate) fn describe(&self, l: &Layout) -> String {
        match self {
            BadRecord::Magic { found, want } => format!(
                "bad magic 0x{found:0w$X} (expected 0x{want:0w$X})",
                w = l.magic.map(|m| m.width as usize * 2).unwrap_or(8)
            ),
            BadRecord::Empty => "zero record length".into(),
            BadRecord::TooShort { len } => format!(
                "record length {len} is shorter than the {}-byte record header it includes",
                l.rec_header_len
            ),
            BadRecord::TooLong { len, total, max } if total == len => {
                format!(
                    "absurd record length {len} (more than the maximum of {max} bytes; see --max-record)"
                )
            }
            BadRecord::TooLong { len, total, max } => format!(
                "absurd record length {len} ({total} bytes with the {}-byte record header, more than the maximum of {max}; see --max-record)",
                l.rec_header_len
            ),
            BadRecord::Overflow { len } => format!(
                "absurd record length {len}: with the {}-byte record header it exceeds 2^64 bytes",
                l.rec_header_len
            ),
        }
    }
}

impl Layout {
    /// The seed layout: 136-byte file header; record header = 4-byte sync
    /// word, 4-byte file sequence number, 4-byte length.
    pub(crate) fn seed(endian: Endian, len_includes_header: bool) -> Layout {
        Layout {
            name: "seed",
            header_len: 136,
            rec_header_len: 12,
            len_offset: 8,
            len_width: 4,
            endian,
            len_includes_header,
            magic: Some(Magic {
                offset: 0,
                width: 4,
                value: SEED_MAGIC,
            }),
            seq_offset: Some(4),
            max_record: DEFAULT_MAX_RECORD,
            allow_empty: false,
            pcap_nanos: false,
        }
    }

    /// A pcap layout with the given byte order and timestamp precision.
    pub(crate) fn pcap(endian: Endian, nanos: bool, snaplen: u32) -> Layout {
        Layout {
            name: "pcap",
            header_len: 24,
            rec_header_len: 16,
            len_offset: 8,
            len_width: 4,
            endian,
            len_includes_header: false,
            magic: None,
            seq_offset: None,
            max_record: 16 + u64::from(snaplen).max(262_144),
            allow_empty: true,
            pcap_nanos: nanos,
        }
    }

    /// Detect a pcap layout from the first bytes of a file.
    pub(crate) fn pcap_from_header(h: &[u8]) -> Result<Layout> {
        if h.len() < 24 {
            return Err(Error::malformed(format!(
                "truncated pcap file header: {} bytes, a pcap header is 24",
                h.len()
            ))
            .at(h.len() as u64));
        }
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (endian, nanos) = match (le, be) {
            (PCAP_MAGIC_US, _) => (Endian::Little, false),
            (PCAP_MAGIC_NS, _) => (Endian::Little, true),
            (_, PCAP_MAGIC_US) => (Endian::Big, false),
            (_, PCAP_MAGIC_NS) => (Endian::Big, true),
            _ if le == PCAPNG_MAGIC => {
                return Err(Error::malformed(
                    "this is a pcapng file: use --layout pcapng (or auto)",
                )
                .at(0));
            }
            _ => {
                return Err(Error::malformed(format!("not a pcap file: magic 0x{le:08X}")).at(0));
            }
        };
        let major = read_uint(&h[4..6], 2, endian);
        let minor = read_uint(&h[6..8], 2, endian);
        if major != 2 || !matches!(minor, 3 | 4) {
            // libpcap refuses majors below 2 and versions past 2.4; 2.0-2.2
            // (and DG/UX's 543.0) keep incl_len and orig_len the other way round.
            return Err(Error::malformed(format!(
                "unsupported pcap version {major}.{minor}: mmkit reads versions 2.4 and 2.3"
            ))
            .at(4));
        }
        let link = read_uint(&h[20..24], 4, endian);
        if link & PCAP_LINK_RESERVED != 0 {
            return Err(Error::malformed(format!(
                "pcap link-type field 0x{link:08X} has reserved bits 16-25 set (libpcap and Wireshark refuse it)"
            ))
            .at(20));
        }
        let snaplen = read_uint(&h[16..20], 4, endian) as u32;
        Ok(Layout::pcap(endian, nanos, snaplen))
    }

    /// Check the layout is self-consistent.
    pub(crate) fn validate(&self) -> Result<()> {
        if !matches!(self.len_width, 1 | 2 | 4 | 8) {
            return Err(Error::usage(format!(
                "--len-width {} must be 1, 2, 4 or 8",
                self.len_width
            )));
        }
        if self.len_offset + self.len_width as usize > self.rec_header_len {
            return Err(Error::usage(format!(
                "the length field (offset {}, {} bytes) does not fit in the {}-byte record header",
                self.len_offset, self.len_width, self.rec_header_len
            )));
        }
        if let Some(m) = self.magic {
            if !matches!(m.width, 1 | 2 | 4 | 8) {
                return Err(Error::usage("--magic-width must be 1, 2, 4 or 8"));
            }
            if m.offset + m.width as usize > self.rec_header_len {
                return Err(Error::usage(format!(
                    "the magic (offset {}, {} bytes) does not fit in the {}-byte record header",
                    m.offset, m.width, self.rec_header_len
                )));
            }
            if m.width < 8 && m.value >> (8 * m.width as u32) != 0 {
                return Err(Error::usage(format!(
                    "magic 0x{:X} does not fit in {} bytes",
                    m.value, m.width
                )));
            }
        }
        if let Some(s) = self.seq_offset
            && s + 4 > self.rec_header_len
        {
            return Err(Error::usage(
                "the sequence number does not fit in the record header",
            ));
        }
        if self.rec_header_len > 1 << 16 || self.header_len > 1 << 24 {
            return Err(Error::usage(
                "header lengths are limited to 64 KiB (record) and 16 MiB (file)",
            ));
        }
        if self.max_record < self.rec_header_len as u64 {
            return Err(Error::usage(
                "--max-record is smaller than the record header",
            ));
        }
        Ok(())
    }

    /// The raw length field of a record header.
    pub(crate) fn raw_len(&self, rh: &[u8]) -> u64 {
        read_uint(&rh[self.len_offset..], self.len_width, self.endian)
    }

    /// Total length of the record (header + payload) whose header is `rh`
    /// (`rh.len() >= rec_header_len`), after the magic and sanity checks.
    pub(crate) fn record_len(&self, rh: &[u8]) -> std::result::Result<u64, BadRecord> {
        if let Some(m) = self.magic {
            let found = read_uint(&rh[m.offset..], m.width, self.endian);
            if found != m.value {
                return Err(BadRecord::Magic {
                    found,
                    want: m.value,
                });
            }
        }
        let raw = self.raw_len(rh);
        let h = self.rec_header_len as u64;
        let total = if self.len_includes_header {
            if raw < h {
                return Err(if raw == 0 {
                    BadRecord::Empty
                } else {
                    BadRecord::TooShort { len: raw }
                });
            }
            raw
        } else {
            raw.checked_add(h).ok_or(BadRecord::Overflow { len: raw })?
        };
        if total == h && !self.allow_empty {
            return Err(BadRecord::Empty);
        }
        if total > self.max_record {
            return Err(BadRecord::TooLong {
                len: raw,
                total,
                max: self.max_record,
            });
        }
        Ok(total)
    }

    /// The sequence number of a record (seed layout).
    pub(crate) fn seq(&self, rh: &[u8]) -> Option<u32> {
        self.seq_offset
            .map(|o| read_uint(&rh[o..], 4, self.endian) as u32)
    }

    /// Encode a record header for a payload of `payload` bytes (generator, tests).
    pub(crate) fn encode_header(&self, rh: &mut [u8], payload: u64, seq: u32) {
        if let Some(m) = self.magic {
            write_uint(&mut rh[m.offset..], m.width, self.endian, m.value);
        }
        if let Some(o) = self.seq_offset {
            write_uint(&mut rh[o..], 4, self.endian, seq as u64);
        }
        let v = if self.len_includes_header {
            payload + self.rec_header_len as u64
        } else {
            payload
        };
        write_uint(&mut rh[self.len_offset..], self.len_width, self.endian, v);
    }

    /// One line describing the layout.
    pub(crate) fn describe(&self) -> String {
        let mut s = match self.name {
            "pcap" => format!(
                "pcap ({}-endian, {} timestamps)",
                if self.endian == Endian::Little {
                    "little"
                } else {
                    "big"
                },
                if self.pcap_nanos {
                    "nanosecond"
                } else {
                    "microsecond"
                }
            ),
            n => format!(
                "{n} (file header {} B, record header {} B, {}-byte {} length at +{}{})",
                self.header_len,
                self.rec_header_len,
                self.len_width,
                self.endian.short(),
                self.len_offset,
                if self.len_includes_header {
                    ", counting the header"
                } else {
                    ""
                }
            ),
        };
        if let Some(m) = self.magic {
            s.push_str(&format!(", magic 0x{:X} at +{}", m.value, m.offset));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_uint_all_widths_and_orders_at_odd_offsets() {
        let b = [0xAAu8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        assert_eq!(read_uint(&b[1..], 1, Endian::Big), 0x01);
        assert_eq!(read_uint(&b[1..], 2, Endian::Little), 0x0201);
        assert_eq!(read_uint(&b[1..], 2, Endian::Big), 0x0102);
        assert_eq!(read_uint(&b[1..], 4, Endian::Little), 0x0403_0201);
        assert_eq!(read_uint(&b[1..], 4, Endian::Big), 0x0102_0304);
        assert_eq!(read_uint(&b[1..], 8, Endian::Little), 0x0807_0605_0403_0201);
        assert_eq!(read_uint(&b[1..], 8, Endian::Big), 0x0102_0304_0506_0708);
    }

    #[test]
    fn write_then_read_roundtrip() {
        for w in [1u8, 2, 4, 8] {
            for e in [Endian::Little, Endian::Big] {
                let mut b = [0u8; 9];
                let v = 0x1122_3344_5566_7788u64 & (u64::MAX >> (64 - 8 * w as u32));
                write_uint(&mut b[1..], w, e, v);
                assert_eq!(read_uint(&b[1..], w, e), v, "w={w} e={e:?}");
            }
        }
    }

    #[test]
    fn seed_record_header() {
        for e in [Endian::Little, Endian::Big] {
            let l = Layout::seed(e, false);
            l.validate().unwrap();
            let mut rh = [0u8; 12];
            l.encode_header(&mut rh, 100, 7);
            assert_eq!(l.record_len(&rh), Ok(112));
            assert_eq!(l.seq(&rh), Some(7));
            rh[0] ^= 1;
            assert!(matches!(l.record_len(&rh), Err(BadRecord::Magic { .. })));
        }
        let mut incl = Layout::seed(Endian::Little, true);
        let mut rh = [0u8; 12];
        incl.encode_header(&mut rh, 100, 0);
        assert_eq!(incl.raw_len(&rh), 112);
        assert_eq!(incl.record_len(&rh), Ok(112));
        write_uint(&mut rh[8..], 4, Endian::Little, 5);
        assert_eq!(incl.record_len(&rh), Err(BadRecord::TooShort { len: 5 }));
        write_uint(&mut rh[8..], 4, Endian::Little, 0);
        assert_eq!(incl.record_len(&rh), Err(BadRecord::Empty));
        incl.len_includes_header = false;
        assert_eq!(incl.record_len(&rh), Err(BadRecord::Empty));
        write_uint(&mut rh[8..], 4, Endian::Little, 0xFFFF_FFFF);
        assert!(matches!(
            incl.record_len(&rh),
            Err(BadRecord::TooLong { .. })
        ));
    }

    #[test]
    fn absurd_length_messages_are_true() {
        // An 8-byte length field of 2^64 - 1 plus a 12-byte header overflows;
        // the message once claimed it was "more than the maximum
        // 18446744073709551615".
        let mut l = Layout::seed(Endian::Little, false);
        l.len_width = 8;
        l.rec_header_len = 16;
        l.max_record = u64::MAX;
        let mut rh = [0u8; 16];
        l.encode_header(&mut rh, 1, 0);
        write_uint(&mut rh[8..], 8, Endian::Little, u64::MAX);
        let e = l.record_len(&rh).unwrap_err();
        let m = e.describe(&l);
        assert!(!m.contains("more than the maximum"), "{m}");
        assert!(
            m.contains("16-byte record header") && m.contains("2^64"),
            "{m}"
        );
        // Payload below the maximum but header + payload above it: the
        // message says both numbers.
        l.max_record = 1000;
        write_uint(&mut rh[8..], 8, Endian::Little, 990);
        let m = l.record_len(&rh).unwrap_err().describe(&l);
        assert!(
            m.contains(
                "990 (1006 bytes with the 16-byte record header, more than the maximum of 1000"
            ),
            "{m}"
        );
        l.len_includes_header = true;
        write_uint(&mut rh[8..], 8, Endian::Little, 1006);
        let m = l.record_len(&rh).unwrap_err().describe(&l);
        assert!(
            m.contains("absurd record length 1006 (more than the maximum of 1000 bytes"),
            "{m}"
        );
    }

    #[test]
    fn pcap_detection() {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&PCAP_MAGIC_US.to_le_bytes());
        h[4..8].copy_from_slice(&[2, 0, 4, 0]);
        h[16..20].copy_from_slice(&65535u32.to_le_bytes());
        let l = Layout::pcap_from_header(&h).unwrap();
        assert_eq!((l.endian, l.pcap_nanos), (Endian::Little, false));
        h[..4].copy_from_slice(&PCAP_MAGIC_NS.to_be_bytes());
        h[4..8].copy_from_slice(&[0, 2, 0, 4]);
        let l = Layout::pcap_from_header(&h).unwrap();
        assert_eq!((l.endian, l.pcap_nanos), (Endian::Big, true));
        h[..4].copy_from_slice(&PCAPNG_MAGIC.to_le_bytes());
        assert!(
            Layout::pcap_from_header(&h)
                .unwrap_err()
                .msg
                .contains("pcapng")
        );
        assert!(Layout::pcap_from_header(&h[..10]).is_err());
        h[..4].copy_from_slice(b"junk");
        assert!(Layout::pcap_from_header(&h).is_err());
    }

    #[test]
    fn validate_rejects_inconsistent_layouts() {
        let mut l = Layout::seed(Endian::Little, false);
        l.len_width = 3;
        assert!(l.validate().is_err());
        let mut l = Layout::seed(Endian::Little, false);
        l.len_offset = 10;
        assert!(l.validate().is_err());
        let mut l = Layout::seed(Endian::Little, false);
        l.magic = Some(Magic {
            offset: 0,
            width: 2,
            value: 0x1_0000,
        });
        assert!(l.validate().is_err());
    }
}
