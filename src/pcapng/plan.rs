//! How split uses [`Prefix`]: a piece is "prefix bytes + input ranges". The
//! [`Splitter`] is fed the walked blocks one at a time (it keeps no block
//! data, only the small prefix), so it fits the windowed walk: it hands back
//! each finished piece's plan, which the writer turns into output with the
//! prefix then the ranges of the mapped input.

use std::ops::Range;

use super::section::{Disposition, Prefix, SECTION_LENGTH_AT, disposition};
use super::{Endian, SHB_FIXED};

/// A run of output bytes of a piece body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Input bytes at these file offsets.
    Input(Range<u64>),
    /// Bytes that are not in the input (an SHB's Section Length set to -1).
    Bytes(Vec<u8>),
}

/// What one piece is made of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PiecePlan {
    /// The repeated prefix (empty for the first piece).
    pub prefix: Vec<u8>,
    /// The body, in order; adjacent input ranges are merged.
    pub chunks: Vec<Chunk>,
    /// Total piece length, prefix included.
    pub len: u64,
    /// Body blocks written (dropped blocks not counted).
    pub blocks: u64,
}

impl PiecePlan {
    fn starting_with(prefix: Vec<u8>) -> Self {
        let len = prefix.len() as u64;
        PiecePlan {
            prefix,
            chunks: Vec::new(),
            len,
            blocks: 0,
        }
    }

    fn push_input(&mut self, r: Range<u64>) {
        if let Some(Chunk::Input(last)) = self.chunks.last_mut()
            && last.end == r.start
        {
            last.end = r.end;
            return;
        }
        self.chunks.push(Chunk::Input(r));
    }

    /// The piece's bytes, `input` being the whole input (for tests and small files).
    pub fn materialize(&self, input: &[u8]) -> Option<Vec<u8>> {
        let mut v = self.prefix.clone();
        for c in &self.chunks {
            match c {
                Chunk::Input(r) => {
                    let s = usize::try_from(r.start).ok()?;
                    let e = usize::try_from(r.end).ok()?;
                    v.extend_from_slice(input.get(s..e)?);
                }
                Chunk::Bytes(b) => v.extend_from_slice(b),
            }
        }
        Some(v)
    }
}

/// A block that does not fit in `--size` after the section prefix its
/// piece must begin with: the split stops before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooSmall {
    /// File offset of the block.
    pub at: u64,
    /// Its length.
    pub block: u64,
    /// The prefix its piece begins with (0 in the first piece).
    pub prefix: u64,
    /// Pieces finished before it.
    pub pieces: u64,
}

impl TooSmall {
    /// The smallest `--size` that holds the prefix and the block.
    pub fn need(&self) -> u64 {
        self.prefix + self.block
    }
}

/// Cuts a walked pcapng input into piece plans of at most `size` bytes
/// each. A block that does not fit next to the prefix is refused
/// ([`TooSmall`]): no piece is ever over `size`. Work per block is O(1);
/// the prefix is copied once per piece (it is at most `size`).
pub struct Splitter {
    prefix: Prefix,
    size: u64,
    cur: PiecePlan,
    pieces: u64,
}

impl Splitter {
    pub fn new(size: u64) -> Self {
        Splitter {
            prefix: Prefix::new(),
            size,
            cur: PiecePlan::default(),
            pieces: 0,
        }
    }

    /// Feeds the next valid block (file offset, type, whole bytes). Returns
    /// the plan of the piece this block closed, if it did not fit.
    pub fn feed(
        &mut self,
        offset: u64,
        block_type: u32,
        bytes: &[u8],
    ) -> Result<Option<PiecePlan>, TooSmall> {
        self.feed_sized(offset, block_type, bytes.len() as u64, bytes)
    }

    /// [`Splitter::feed`] for a walk that does not hold whole packet blocks:
    /// `len` is the block's total length; `bytes` is the whole block for an
    /// SHB, IDB or DSB (the prefix keeps them) and may be just its first
    /// bytes for any other type. On [`TooSmall`] nothing changes:
    /// [`Splitter::finish`] gives the piece before the block.
    pub fn feed_sized(
        &mut self,
        offset: u64,
        block_type: u32,
        len: u64,
        bytes: &[u8],
    ) -> Result<Option<PiecePlan>, TooSmall> {
        let disp = disposition(block_type);
        let out = if disp == Disposition::Drop { 0 } else { len };
        let mut done = None;
        let cut = out > 0 && self.cur.blocks > 0 && self.cur.len + out > self.size;
        let start = if cut {
            self.prefix.len() as u64
        } else {
            self.cur.len
        };
        if start + out > self.size {
            return Err(TooSmall {
                at: offset,
                block: out,
                prefix: if cut || self.pieces > 0 { start } else { 0 },
                pieces: self.pieces,
            });
        }
        if cut {
            // The new piece starts with the prefix as it stands before this block.
            let next = PiecePlan::starting_with(self.prefix.bytes());
            done = Some(std::mem::replace(&mut self.cur, next));
            self.pieces += 1;
        }
        let end = offset + len;
        match disp {
            Disposition::Copy => self.cur.push_input(offset..end),
            Disposition::UnknownSectionLength if len >= SHB_FIXED as u64 => {
                let at = offset + SECTION_LENGTH_AT as u64;
                let endian = bytes
                    .get(8..12)
                    .and_then(|b| b.try_into().ok())
                    .and_then(Endian::from_bom)
                    .unwrap_or(Endian::Little);
                self.cur.push_input(offset..at);
                self.cur
                    .chunks
                    .push(Chunk::Bytes(endian.u64_bytes(u64::MAX).to_vec()));
                self.cur.push_input(at + 8..end);
            }
            Disposition::UnknownSectionLength => self.cur.push_input(offset..end),
            Disposition::Drop => {}
        }
        if out > 0 {
            self.cur.len += out;
            self.cur.blocks += 1;
        }
        self.prefix.feed(block_type, bytes);
        Ok(done)
    }

    /// Close the current piece now (`--records`): its plan, `None` when it
    /// has no block; the next starts with the prefix as it stands.
    pub fn cut(&mut self) -> Option<PiecePlan> {
        (self.cur.blocks > 0).then(|| {
            self.pieces += 1;
            let next = PiecePlan::starting_with(self.prefix.bytes());
            std::mem::replace(&mut self.cur, next)
        })
    }

    /// The last piece's plan (`None` when it has no block).
    pub fn finish(self) -> Option<PiecePlan> {
        (self.cur.blocks > 0).then_some(self.cur)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::block::{DEFAULT_MAX_BLOCK, Walker};
    use super::super::section::{JoinError, Joiner};
    use super::super::testutil::*;
    use super::super::{CUSTOM_NO_COPY, EPB, SHB};
    use super::*;

    /// The plans of a split, and the refusal that stopped it, if any.
    fn try_plans(data: &[u8], size: u64) -> (Vec<PiecePlan>, Option<TooSmall>) {
        let mut s = Splitter::new(size);
        let mut plans = Vec::new();
        let mut refused = None;
        for b in Walker::new(data, 0, DEFAULT_MAX_BLOCK) {
            let b = b.expect("test input is valid");
            match s.feed(b.offset, b.header.block_type, b.bytes) {
                Ok(p) => plans.extend(p),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        plans.extend(s.finish());
        for p in &plans {
            assert!(p.len <= size, "{} bytes, {} blocks", p.len, p.blocks);
        }
        if let Some(r) = refused {
            assert!(r.need() > size, "{r:?} refused under --size {size}");
            // The pieces finished before it, and the one it would not join.
            assert!(plans.len() as u64 - r.pieces <= 1, "{r:?}");
        }
        (plans, refused)
    }

    fn plans(data: &[u8], size: u64) -> Vec<PiecePlan> {
        let (plans, refused) = try_plans(data, size);
        assert_eq!(refused, None);
        plans
    }

    fn split(data: &[u8], size: u64) -> Vec<Vec<u8>> {
        plans(data, size)
            .iter()
            .map(|p| {
                let v = p.materialize(data).expect("ranges inside input");
                assert_eq!(v.len() as u64, p.len);
                v
            })
            .collect()
    }

    fn join(pieces: &[Vec<u8>]) -> Result<Vec<u8>, JoinError> {
        let mut j = Joiner::new();
        let mut out = Vec::new();
        for p in pieces {
            let drop = j.start_piece(p)?;
            let body = &p[drop..];
            // The body continues the section state left by the prefix.
            let mut w = Walker::new(p, 0, DEFAULT_MAX_BLOCK);
            for b in w.by_ref() {
                let b = b.expect("piece is valid");
                if b.offset as usize >= drop {
                    j.feed(b.header.block_type, b.bytes);
                }
            }
            out.extend_from_slice(body);
        }
        Ok(out)
    }

    fn unknown_len(mut data: Vec<u8>) -> Vec<u8> {
        // The expected join result: every SHB says -1.
        let offs: Vec<usize> = Walker::new(&data, 0, DEFAULT_MAX_BLOCK)
            .filter_map(Result::ok)
            .filter(|b| b.header.block_type == SHB)
            .map(|b| b.offset as usize)
            .collect();
        for o in offs {
            data[o + 16..o + 24].copy_from_slice(&[0xff; 8]);
        }
        data
    }

    #[test]
    fn two_identical_sections_cut_at_the_second_shb_join_back() {
        // cat a.pcapng a.pcapng: identical SHBs and IDBs; the ambiguous case.
        let e = Endian::Little;
        let mut one = shb(e, -1, &[]);
        one.extend(idb(e, 1, 65535, &[]));
        one.extend(epb(e, 0, 1, &[7; 40], &[]));
        let mut data = one.clone();
        data.extend(one.clone());
        for size in [one.len() as u64, 150, 200] {
            let pieces = split(&data, size);
            assert!(pieces.len() >= 2);
            assert_eq!(join(&pieces).expect("joins"), data, "size {size}");
        }
    }

    #[test]
    fn pieces_obey_size_and_begin_with_prefix() {
        let e = Endian::Big;
        let mut data = shb(e, 5000, &[]);
        data.extend(idb(e, 1, 65535, &[]));
        data.extend(dsb(e, b"secret"));
        for i in 0..20u64 {
            data.extend(epb(e, 0, i, &[i as u8; 50], &[]));
            if i == 10 {
                data.extend(idb(e, 101, 1500, &[]));
                data.extend(custom(e, CUSTOM_NO_COPY, b"gone"));
                data.extend(isb(e, 0, 99));
            }
        }
        let size = 300;
        let pieces = split(&data, size);
        assert!(pieces.len() > 5);
        for (k, p) in pieces.iter().enumerate() {
            assert!(p.len() as u64 <= size, "piece {k} is {} bytes", p.len());
            let blocks: Vec<_> = Walker::new(p, 0, DEFAULT_MAX_BLOCK)
                .map(|b| b.expect("valid piece"))
                .collect();
            assert_eq!(blocks[0].header.block_type, SHB);
            assert_eq!(e.u64_at(blocks[0].bytes, 16), Some(u64::MAX));
            assert!(blocks.iter().all(|b| b.header.block_type != CUSTOM_NO_COPY));
            assert!(blocks.iter().any(|b| b.header.block_type == EPB));
        }
        let joined = join(&pieces).expect("joins");
        let mut want = unknown_len(data.clone());
        let c = custom(e, CUSTOM_NO_COPY, b"gone");
        let at = want
            .windows(c.len())
            .position(|w| w == c)
            .expect("custom present");
        want.drain(at..at + c.len());
        assert_eq!(joined, want);
        // A missing piece that held the second IDB: the last piece's prefix
        // has two interfaces where the joined state has one.
        let last = pieces.last().expect("pieces").clone();
        assert!(matches!(
            join(&[pieces[0].clone(), last]),
            Err(JoinError::SecretsMismatch { index: 0, .. })
        ));
        // Pieces of a big-endian capture are chained with their own byte order.
        assert!(
            plans(&data, size)
                .iter()
                .skip(1)
                .all(|p| p.prefix.len() > 28)
        );
    }

    #[test]
    fn a_block_that_does_not_fit_next_to_the_prefix_is_refused() {
        let e = Endian::Little;
        let mut data = shb(e, -1, &[]);
        data.extend(idb(e, 1, 65535, &[]));
        let prefix = data.len() as u64;
        data.extend(epb(e, 0, 2, &[2; 10], &[]));
        let big_at = data.len() as u64;
        data.extend(epb(e, 0, 1, &[1; 500], &[]));
        data.extend(epb(e, 0, 2, &[2; 10], &[]));
        let (plans, refused) = try_plans(&data, 200);
        // [SHB IDB EPB], then the big EPB would need prefix + 532 bytes.
        assert_eq!(plans.len(), 1);
        let r = refused.expect("refused");
        assert_eq!(
            (r.at, r.block, r.prefix, r.pieces),
            (big_at, 532, prefix, 0)
        );
        assert_eq!(r.need(), prefix + 532);
        assert_eq!(plans[0].len, big_at);
        // The first block alone over the size: refused with no prefix.
        let (plans, refused) = try_plans(&data, 20);
        assert!(plans.is_empty());
        assert_eq!(refused.map(|r| (r.at, r.prefix)), Some((0, 0)));
    }

    #[test]
    fn a_prefix_past_the_size_stops_the_split_in_linear_work() {
        // 100,000 IDBs after one packet: each would go alone in a piece
        // with the whole prefix before it (quadratic bytes).
        let e = Endian::Little;
        let mut data = shb(e, -1, &[]);
        data.extend(idb(e, 1, 65535, &[]));
        data.extend(epb(e, 0, 1, &[0; 40], &[]));
        let one = idb(e, 1, 65535, &[]);
        for _ in 0..100_000 {
            data.extend_from_slice(&one);
        }
        let size = 64 << 10;
        let (plans, refused) = try_plans(&data, size);
        let r = refused.expect("refused where the prefix outgrows the size");
        assert!(r.prefix + r.block > size && r.prefix <= size, "{r:?}");
        let planned: u64 = plans.iter().map(|p| p.len).sum();
        assert!(planned <= 2 * size, "{planned} bytes planned");
    }

    fn arb_block(e: Endian) -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (0usize..90).prop_map(move |n| epb(e, 0, n as u64, &vec![0xab; n], &[])),
            1 => (1u16..300).prop_map(move |l| idb(e, l, 65535, &[])),
            1 => (0usize..30).prop_map(move |n| dsb(e, &vec![b'k'; n])),
            1 => Just(nrb(e)),
            1 => Just(isb(e, 0, 5)),
            1 => (0usize..20).prop_map(move |n| spb(e, n as u32, &vec![1; n])),
            1 => Just(custom_copy(e)),
        ]
    }

    fn arb_section() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![Just(Endian::Little), Just(Endian::Big)].prop_flat_map(|e| {
            (prop::collection::vec(arb_block(e), 0..25), any::<bool>()).prop_map(
                move |(bs, opt)| {
                    let o = if opt {
                        vec![(4u16, b"x".to_vec())]
                    } else {
                        vec![]
                    };
                    let mut v = shb(e, -1, &o);
                    v.extend(idb(e, 1, 65535, &[]));
                    v.extend(bs.concat());
                    v
                },
            )
        })
    }

    proptest! {
        #[test]
        fn split_then_join_is_identity(
            sections in prop::collection::vec(arb_section(), 1..4),
            size in 60u64..1500,
        ) {
            let data = sections.concat();
            let (plans, refused) = try_plans(&data, size);
            let pieces: Vec<Vec<u8>> = plans
                .iter()
                .map(|p| p.materialize(&data).expect("ranges inside input"))
                .collect();
            for p in &pieces {
                prop_assert_eq!(super::super::block::valid_prefix_len(p, DEFAULT_MAX_BLOCK), p.len());
            }
            let joined = join(&pieces).expect("joins");
            match refused {
                // The pieces before the refused block join to the input before it.
                Some(r) => prop_assert_eq!(&joined[..], &unknown_len(data[..r.at as usize].to_vec())[..]),
                None => prop_assert_eq!(joined, data),
            }
        }
    }
}
