//! The per-section state that split repeats at the head of every piece, and
//! that join recognises and drops.
//!
//! [`Prefix`] is fed every block of the input in order (or, on the join side,
//! every block written to the output). At any point its [`Prefix::bytes`] are
//! what a piece starting at the next block must begin with: the current
//! section's SHB with Section Length -1, then every IDB of the section so far,
//! then every DSB of the section so far. An SHB starts the prefix over.

use std::fmt;
use std::io::{self, Write};

use super::{CUSTOM_NO_COPY, DSB, Endian, IDB, SHB};

/// Offset of the Section Length inside an SHB.
pub const SECTION_LENGTH_AT: usize = 16;

/// What a split does with an input block in a piece's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Copy the input bytes as they are.
    Copy,
    /// Copy the input bytes, but with the 8 bytes at [`SECTION_LENGTH_AT`]
    /// set to -1 (an SHB: its section is now spread over pieces).
    UnknownSectionLength,
    /// Leave the block out: a custom block marked not to be copied
    /// (0x40000BAD) must not survive into a modified file.
    Drop,
}

/// What split does with a block of this type.
pub fn disposition(block_type: u32) -> Disposition {
    match block_type {
        SHB => Disposition::UnknownSectionLength,
        CUSTOM_NO_COPY => Disposition::Drop,
        _ => Disposition::Copy,
    }
}

/// Sets an SHB's Section Length to -1 in the section's byte order (no-op
/// when `shb` is shorter than an SHB's fixed part).
pub fn set_unknown_section_length(shb: &mut [u8], endian: Endian) {
    if let Some(s) = shb.get_mut(SECTION_LENGTH_AT..SECTION_LENGTH_AT + 8) {
        s.copy_from_slice(&endian.u64_bytes(u64::MAX));
    }
}

/// The byte order an SHB's byte-order magic says (`None` when malformed).
fn shb_endian(shb: &[u8]) -> Option<Endian> {
    Endian::from_bom(shb.get(8..12)?.try_into().ok()?)
}

/// The current section's SHB (Section Length -1), IDBs and DSBs, in order.
/// The IDBs and the DSBs are each kept as one run of bytes (no allocation
/// per block), so its length is known without a walk.
#[derive(Debug, Default, Clone)]
pub struct Prefix {
    shb: Vec<u8>,
    endian: Option<Endian>,
    idbs: Vec<u8>,
    dsbs: Vec<u8>,
    sections: u64,
}

/// The blocks of a run of whole, valid blocks of one byte order.
#[derive(Debug, Clone)]
pub struct Blocks<'a> {
    rest: &'a [u8],
    endian: Endian,
}

impl<'a> Iterator for Blocks<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = self.endian.u32_at(self.rest, 4)?;
        let len = usize::try_from(len).ok().filter(|&l| l >= 12)?;
        let (b, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        Some(b)
    }
}

impl Prefix {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next block (its type and whole bytes, already validated by
    /// the walk) and says what split does with it.
    pub fn feed(&mut self, block_type: u32, bytes: &[u8]) -> Disposition {
        match block_type {
            SHB => {
                self.endian = shb_endian(bytes);
                self.shb.clear();
                self.shb.extend_from_slice(bytes);
                if let Some(e) = self.endian {
                    set_unknown_section_length(&mut self.shb, e);
                }
                self.idbs.clear();
                self.dsbs.clear();
                self.sections += 1;
            }
            IDB => self.idbs.extend_from_slice(bytes),
            DSB => self.dsbs.extend_from_slice(bytes),
            _ => {}
        }
        disposition(block_type)
    }

    /// Byte order of the current section (`None` before the first SHB).
    pub fn endian(&self) -> Option<Endian> {
        self.endian
    }

    /// Sections seen so far.
    pub fn sections(&self) -> u64 {
        self.sections
    }

    /// The current section's SHB with Section Length -1 (empty before one).
    pub fn shb(&self) -> &[u8] {
        &self.shb
    }

    fn blocks<'a>(&self, run: &'a [u8]) -> Blocks<'a> {
        Blocks {
            rest: run,
            endian: self.endian.unwrap_or(Endian::Little),
        }
    }

    /// IDBs of the current section so far; position = interface ID.
    pub fn idbs(&self) -> Blocks<'_> {
        self.blocks(&self.idbs)
    }

    /// DSBs of the current section so far.
    pub fn dsbs(&self) -> Blocks<'_> {
        self.blocks(&self.dsbs)
    }

    /// The prefix in order (SHB, IDBs, DSBs) as three runs; for vectored writes.
    pub fn parts(&self) -> [&[u8]; 3] {
        [&self.shb, &self.idbs, &self.dsbs]
    }

    /// Length of the prefix a piece starting now begins with.
    pub fn len(&self) -> usize {
        self.shb.len() + self.idbs.len() + self.dsbs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shb.is_empty()
    }

    /// The prefix as one buffer.
    pub fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for p in self.parts() {
            v.extend_from_slice(p);
        }
        v
    }

    /// Writes the prefix to `out`.
    pub fn write_to<W: Write>(&self, out: &mut W) -> io::Result<()> {
        for p in self.parts() {
            out.write_all(p)?;
        }
        Ok(())
    }
}

/// Why a piece does not continue the capture joined so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The piece does not start with a Section Header Block.
    NotPcapng,
    /// The piece ends inside the prefix it should repeat.
    Truncated { need: usize, have: usize },
    /// Its SHB differs from the current section's: another capture or section.
    DifferentSection,
    /// Interface Description Block `index` is missing or differs.
    InterfaceMismatch { index: usize, offset: usize },
    /// Decryption Secrets Block `index` is missing or differs.
    SecretsMismatch { index: usize, offset: usize },
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::NotPcapng => {
                write!(f, "piece does not start with a pcapng Section Header Block")
            }
            JoinError::Truncated { need, have } => write!(
                f,
                "piece has {have} bytes, shorter than the {need}-byte prefix it should repeat"
            ),
            JoinError::DifferentSection => write!(
                f,
                "piece starts with another Section Header Block than the previous piece's section: not the next piece of this capture"
            ),
            JoinError::InterfaceMismatch { index, offset } => write!(
                f,
                "interface {index} at offset {offset} differs from the previous pieces' (missing, reordered or another capture)"
            ),
            JoinError::SecretsMismatch { index, offset } => write!(
                f,
                "decryption secrets block {index} at offset {offset} differs from the previous pieces'"
            ),
        }
    }
}

impl std::error::Error for JoinError {}

/// Join-side state: the prefix of the output written so far.
#[derive(Debug, Default, Clone)]
pub struct Joiner {
    prefix: Prefix,
    pieces: u64,
}

impl Joiner {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leading bytes of the next piece [`Joiner::start_piece`] needs.
    pub fn expected_len(&self) -> usize {
        self.prefix.len()
    }

    /// Starts the next piece: `head` is its first bytes (at least
    /// [`Joiner::expected_len`], or the whole piece if shorter). Returns how
    /// many leading bytes are the repeated prefix to drop (0 for piece 1):
    /// exactly the prefix the split wrote, byte for byte.
    pub fn start_piece(&mut self, head: &[u8]) -> Result<usize, JoinError> {
        if head.get(0..4) != Some(&SHB.to_le_bytes()[..]) {
            return Err(JoinError::NotPcapng);
        }
        self.pieces += 1;
        if self.prefix.is_empty() {
            return Ok(0);
        }
        let need = self.prefix.len();
        let shb = self.prefix.shb();
        if head.get(..shb.len()) != Some(shb) {
            if head.len() < shb.len() {
                return Err(JoinError::Truncated {
                    need,
                    have: head.len(),
                });
            }
            return Err(JoinError::DifferentSection);
        }
        let mut off = shb.len();
        for (index, idb) in self.prefix.idbs().enumerate() {
            if head.get(off..off + idb.len()) != Some(idb) {
                return Err(JoinError::InterfaceMismatch { index, offset: off });
            }
            off += idb.len();
        }
        for (index, dsb) in self.prefix.dsbs().enumerate() {
            if head.get(off..off + dsb.len()) != Some(dsb) {
                return Err(JoinError::SecretsMismatch { index, offset: off });
            }
            off += dsb.len();
        }
        debug_assert_eq!(off, need);
        Ok(need)
    }

    /// Feeds a block of the piece's body (written to the output).
    pub fn feed(&mut self, block_type: u32, bytes: &[u8]) {
        self.prefix.feed(block_type, bytes);
    }

    /// Byte order of the current section (to walk a piece's body after its prefix).
    pub fn endian(&self) -> Option<Endian> {
        self.prefix.endian()
    }

    /// Pieces started so far.
    pub fn pieces(&self) -> u64 {
        self.pieces
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{EPB, NRB};
    use super::*;

    #[test]
    fn prefix_collects_shb_idbs_dsbs_and_restarts_per_section() {
        let mut p = Prefix::new();
        assert!(p.is_empty() && p.bytes().is_empty());
        assert_eq!(p.len(), 0);
        for e in [Endian::Big, Endian::Little] {
            let s = shb(e, 4096, &[(4, b"tool".to_vec())]);
            assert_eq!(p.feed(SHB, &s), Disposition::UnknownSectionLength);
            let i0 = idb(e, 1, 65535, &[]);
            let i1 = idb(e, 105, 2048, &[(9, vec![9])]);
            let d0 = dsb(e, b"CLIENT_RANDOM x y\n");
            assert_eq!(p.feed(IDB, &i0), Disposition::Copy);
            assert_eq!(p.feed(EPB, &epb(e, 0, 1, b"pkt", &[])), Disposition::Copy);
            p.feed(NRB, &nrb(e));
            p.feed(DSB, &d0);
            p.feed(IDB, &i1);
            assert_eq!(
                p.feed(CUSTOM_NO_COPY, &custom(e, CUSTOM_NO_COPY, b"x")),
                Disposition::Drop
            );
            let mut want = s.clone();
            want[16..24].copy_from_slice(&[0xff; 8]);
            assert_eq!(p.shb(), &want[..]);
            assert_eq!(p.endian(), Some(e));
            for b in [&i0, &i1, &d0] {
                want.extend_from_slice(b);
            }
            assert_eq!(p.bytes(), want);
            assert_eq!(p.len(), want.len());
            let mut w = Vec::new();
            p.write_to(&mut w).expect("vec write");
            assert_eq!(w, want);
        }
        assert_eq!(p.sections(), 2);
        assert_eq!(p.idbs().count(), 2, "second section starts over");
    }

    #[test]
    fn section_length_rewrite_in_section_byte_order() {
        for e in [Endian::Little, Endian::Big] {
            let mut s = shb(e, 0x0102_0304_0506_0708, &[]);
            assert_eq!(e.u64_at(&s, SECTION_LENGTH_AT), Some(0x0102_0304_0506_0708));
            set_unknown_section_length(&mut s, e);
            assert_eq!(e.u64_at(&s, SECTION_LENGTH_AT), Some(u64::MAX));
            let mut short = [0u8; 20];
            set_unknown_section_length(&mut short, e);
            assert_eq!(short, [0u8; 20]);
        }
    }

    fn prefix_of(blocks: &[(u32, Vec<u8>)]) -> Prefix {
        let mut p = Prefix::new();
        for (t, b) in blocks {
            p.feed(*t, b);
        }
        p
    }

    #[test]
    fn joiner_drops_exact_prefix_and_rejects_mismatches() {
        let e = Endian::Little;
        let blocks = vec![
            (SHB, shb(e, -1, &[])),
            (IDB, idb(e, 1, 65535, &[])),
            (DSB, dsb(e, b"k")),
            (EPB, epb(e, 0, 7, b"data", &[])),
        ];
        let mut j = Joiner::new();
        assert_eq!(j.start_piece(&blocks[0].1), Ok(0));
        for (t, b) in &blocks {
            j.feed(*t, b);
        }
        let good = prefix_of(&blocks).bytes();
        assert_eq!(j.expected_len(), good.len());
        let mut piece = good.clone();
        piece.extend(epb(e, 0, 8, b"more", &[]));
        assert_eq!(j.clone().start_piece(&piece), Ok(good.len()));
        assert_eq!(
            j.clone().start_piece(&piece[..good.len() - 3]),
            Err(JoinError::SecretsMismatch {
                index: 0,
                offset: good.len() - blocks[2].1.len()
            })
        );
        assert_eq!(
            j.clone().start_piece(&piece[..10]),
            Err(JoinError::Truncated {
                need: good.len(),
                have: 10
            })
        );
        assert_eq!(
            j.clone().start_piece(&piece[4..]),
            Err(JoinError::NotPcapng)
        );
        // Another capture: different SHB options.
        let other = shb(e, -1, &[(4, b"other".to_vec())]);
        assert_eq!(
            j.clone().start_piece(&other),
            Err(JoinError::DifferentSection)
        );
        // Same SHB, another link type.
        let mut bad = prefix_of(&blocks[..1]).bytes();
        bad.extend(idb(e, 105, 65535, &[]));
        bad.extend(dsb(e, b"k"));
        assert!(matches!(
            j.clone().start_piece(&bad),
            Err(JoinError::InterfaceMismatch { index: 0, .. })
        ));
        assert!(
            JoinError::DifferentSection
                .to_string()
                .contains("Section Header Block")
        );
    }
}
