//! Property tests: for random layouts and record sequences, join(split(x))
//! == x, and every piece is within the limit or holds a single record.
//! Drives the binary (under `MMKIT_TEST_RUNNER` too), like every integration test.

mod common;

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

/// Encode `v` as `width` bytes in the case's byte order at `b[off..]`.
fn put(b: &mut [u8], off: usize, width: u8, big: bool, v: u64) {
    let w = width as usize;
    if big {
        b[off..off + w].copy_from_slice(&v.to_be_bytes()[8 - w..]);
    } else {
        b[off..off + w].copy_from_slice(&v.to_le_bytes()[..w]);
    }
}

/// The file bytes and each record's total length.
fn build(c: &Case) -> (Vec<u8>, Vec<u64>) {
    let mut v: Vec<u8> = (0..c.header_len).map(|i| (i * 31 % 251) as u8).collect();
    let mut lens = Vec::new();
    for (i, p) in c.payloads.iter().enumerate() {
        let mut rh = vec![0xA5u8; c.rec_header_len];
        if let Some((off, width, value)) = c.magic {
            put(&mut rh, off, width, c.big, value);
        }
        let field = *p as u64 + if c.incl { c.rec_header_len as u64 } else { 0 };
        put(&mut rh, c.len_offset, c.len_width, c.big, field);
        v.extend_from_slice(&rh);
        v.extend((0..*p).map(|k| (k * 7 + i) as u8));
        lens.push((c.rec_header_len + p) as u64);
    }
    (v, lens)
}

/// The layout flags of the case.
fn layout_args(c: &Case) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--layout".into(),
        "custom".into(),
        "--header-len".into(),
        c.header_len.to_string(),
        "--rec-header-len".into(),
        c.rec_header_len.to_string(),
        "--len-offset".into(),
        c.len_offset.to_string(),
        "--len-width".into(),
        c.len_width.to_string(),
        "--endian".into(),
        if c.big { "be" } else { "le" }.into(),
        "--max-record".into(),
        "1G".into(),
        "--window".into(),
        "64K".into(),
    ];
    if c.incl {
        a.push("--len-includes-header".into());
    }
    if let Some((off, width, value)) = c.magic {
        a.extend([
            "--magic".into(),
            format!("0x{value:X}"),
            "--magic-offset".into(),
            off.to_string(),
            "--magic-width".into(),
            width.to_string(),
        ]);
    }
    a
}

/// Run mmkit; panics with its stderr when it fails.
fn mmkit_ok(args: &[String]) -> String {
    let o = common::mmkit().args(args).output().expect("spawn mmkit");
    assert!(
        o.status.success(),
        "mmkit {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
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
        let (bytes, lens) = build(&c);
        let d = tmp("p");
        let input = d.join("in.bin");
        std::fs::write(&input, &bytes).unwrap();
        let limit = c.header_len as u64 + c.limit_extra;
        let outdir = d.join("out");
        std::fs::create_dir(&outdir).unwrap();
        let (access, write, join_write) = if c.mmap {
            ("mmap", "mmap", "kernel")
        } else {
            ("auto", "kernel", "mmap")
        };
        let mut args: Vec<String> = vec!["-v".into(), "split".into(), input.display().to_string(), "-o".into(), outdir.display().to_string(), "--size".into(), limit.to_string(), "--access".into(), access.into(), "--write".into(), write.into(), "--no-sync".into()];
        args.extend(layout_args(&c));
        // -v lists every piece: PATH<TAB>N bytes<TAB>R records
        let listing = mmkit_ok(&args);
        let pieces: Vec<(String, u64, u64)> = listing
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                if f.len() < 3 {
                    return None;
                }
                let bytes = f[1].strip_suffix(" bytes")?.parse().ok()?;
                let recs = f[2].strip_suffix(" records")?.parse().ok()?;
                Some((f[0].to_string(), bytes, recs))
            })
            .collect();
        prop_assert!(!pieces.is_empty(), "no pieces listed in {:?}", listing);
        let total: u64 = pieces.iter().map(|p| p.2).sum();
        prop_assert_eq!(total, lens.len() as u64);
        for (path, bytes, recs) in &pieces {
            let len = std::fs::metadata(path).unwrap().len();
            prop_assert_eq!(len, *bytes);
            prop_assert!(len <= limit || *recs == 1, "piece {} is {} > {} with {} records", path, len, limit, recs);
        }
        // Greedy: a piece plus the next record would exceed the limit.
        let mut i = 0usize;
        for (k, p) in pieces.iter().enumerate() {
            i += p.2 as usize;
            if k + 1 < pieces.len() {
                prop_assert!(p.1 + lens[i] > limit, "piece {} could have taken the next record", k);
            }
        }
        let joined = d.join("joined.bin");
        let mut args: Vec<String> = vec!["join".into()];
        args.extend(pieces.iter().map(|p| p.0.clone()));
        args.extend(["-o".into(), joined.display().to_string(), "--write".into(), join_write.into(), "--no-sync".into()]);
        args.extend(layout_args(&c));
        mmkit_ok(&args);
        prop_assert!(std::fs::read(&joined).unwrap() == bytes);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
