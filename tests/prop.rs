//! Property tests: for random layouts and record sequences, join(split(x))
//! == x, and every piece is within the limit or holds a single record.
//! Runs the library in-process (fast); the integration tests cover the binary.

use mmkit::join::{JoinOpts, run as join};
use mmkit::layout::{Endian, Layout, LayoutOpts, Magic};
use mmkit::output::WriteMode;
use mmkit::split::{SplitOpts, run as split};
use mmkit::window::{Access, WindowOpts};
use proptest::prelude::*;
use std::path::PathBuf;

#[derive(Debug, Clone)]
struct Case {
    header_len: usize,
    rec_header_len: usize,
    len_offset: usize,
    len_width: u8,
    big: bool,
    incl: bool,
    magic: Option<(usize, u8, u64)>,
    payloads: Vec<usize>,
    limit_extra: u64,
    mmap: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0usize..300,
        1usize..24,
        prop::sample::select(vec![1u8, 2, 4, 8]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(1usize..3000, 0..60),
        1u64..20_000,
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter_map(
            "length field must fit",
            |(h, rh, w, big, incl, with_magic, payloads, extra, mmap, mv)| {
                let rh = rh.max(w as usize);
                let len_offset = (mv as usize) % (rh - w as usize + 1);
                // Payloads must be expressible in the length field.
                let field_max = if w == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * w as u32)) - 1
                };
                let payloads: Vec<usize> = payloads
                    .into_iter()
                    .map(|p| {
                        (p as u64)
                            .min(field_max - if incl { rh as u64 } else { 0 })
                            .max(1) as usize
                    })
                    .collect();
                if incl && (rh as u64) >= field_max {
                    return None;
                }
                // A 1-byte magic placed where it does not overlap the length field.
                let magic = if with_magic && rh > w as usize {
                    let off = if len_offset == 0 { w as usize } else { 0 };
                    if off < rh {
                        Some((off, 1u8, mv & 0xFF))
                    } else {
                        None
                    }
                } else {
                    None
                };
                Some(Case {
                    header_len: h,
                    rec_header_len: rh,
                    len_offset,
                    len_width: w,
                    big,
                    incl,
                    magic,
                    payloads,
                    limit_extra: extra,
                    mmap,
                })
            },
        )
}

fn layout(c: &Case) -> Layout {
    Layout {
        name: "custom",
        header_len: c.header_len,
        rec_header_len: c.rec_header_len,
        len_offset: c.len_offset,
        len_width: c.len_width,
        endian: if c.big { Endian::Big } else { Endian::Little },
        len_includes_header: c.incl,
        magic: c.magic.map(|(offset, width, value)| Magic {
            offset,
            width,
            value,
        }),
        seq_offset: None,
        max_record: 1 << 30,
        allow_empty: false,
        pcap_nanos: false,
    }
}

fn opts(c: &Case) -> LayoutOpts {
    LayoutOpts {
        layout: "custom".into(),
        endian: Some(if c.big { "be" } else { "le" }.into()),
        len_includes_header: c.incl,
        header_len: Some(c.header_len as u64),
        rec_header_len: Some(c.rec_header_len as u64),
        len_offset: Some(c.len_offset as u64),
        len_width: Some(c.len_width as u64),
        magic: c.magic.map(|m| m.2),
        magic_offset: c.magic.map(|m| m.0 as u64),
        magic_width: c.magic.map(|m| m.1 as u64),
        max_record: Some(1 << 30),
        ..Default::default()
    }
}

fn build(c: &Case, l: &Layout) -> (Vec<u8>, Vec<u64>) {
    let mut v: Vec<u8> = (0..c.header_len).map(|i| (i * 31 % 251) as u8).collect();
    let mut lens = Vec::new();
    for (i, p) in c.payloads.iter().enumerate() {
        let mut rh = vec![0xA5u8; c.rec_header_len];
        l.encode_header(&mut rh, *p as u64, i as u32);
        v.extend_from_slice(&rh);
        v.extend((0..*p).map(|k| (k * 7 + i) as u8));
        lens.push((c.rec_header_len + p) as u64);
    }
    (v, lens)
}

fn tmp(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "mmkit-prop-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64), ..ProptestConfig::default() })]

    #[test]
    fn join_of_split_is_identity(c in case()) {
        let l = layout(&c);
        prop_assume!(l.validate().is_ok());
        let (bytes, lens) = build(&c, &l);
        let d = tmp("p");
        let input = d.join("in.bin");
        std::fs::write(&input, &bytes).unwrap();
        let limit = c.header_len as u64 + c.limit_extra;
        let outdir = d.join("out");
        std::fs::create_dir(&outdir).unwrap();
        let win = WindowOpts {
            window: Some(64 << 10),
            lock: false,
            access: if c.mmap { Access::Mmap } else { Access::Auto },
        };
        let r = split(&SplitOpts {
            input: input.clone(), out_dir: outdir.clone(), size: limit, prefix: None,
            write: if c.mmap { WriteMode::Mmap } else { WriteMode::Kernel },
            force: false, sync: false, dry_run: false, layout: opts(&c), window: win,
        }).unwrap();
        let total: u64 = r.pieces.iter().map(|p| p.records).sum();
        prop_assert_eq!(total, lens.len() as u64);
        for p in &r.pieces {
            let len = std::fs::metadata(&p.path).unwrap().len();
            prop_assert_eq!(len, p.bytes);
            prop_assert!(len <= limit || p.records == 1, "piece {} is {} > {} with {} records", p.path.display(), len, limit, p.records);
        }
        // Greedy: a piece plus the next record would exceed the limit.
        let mut i = 0usize;
        for (k, p) in r.pieces.iter().enumerate() {
            i += p.records as usize;
            if k + 1 < r.pieces.len() {
                prop_assert!(p.bytes + lens[i] > limit, "piece {} could have taken the next record", k);
            }
        }
        let joined = d.join("joined.bin");
        join(&JoinOpts {
            pieces: r.pieces.iter().map(|p| p.path.clone()).collect(), output: joined.clone(),
            write: if c.mmap { WriteMode::Kernel } else { WriteMode::Mmap },
            force: false, sync: false, layout: opts(&c), window: win,
        }).unwrap();
        prop_assert!(std::fs::read(&joined).unwrap() == bytes);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
