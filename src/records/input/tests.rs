//! Tests of the windowed input.

use super::*;
use std::io::Write;

fn tmpfile(data: &[u8]) -> (PathBuf, File) {
    let p = std::env::temp_dir().join(format!("mmkit-win-{}-{}", std::process::id(), data.len()));
    let mut f = File::create(&p).unwrap();
    f.write_all(data).unwrap();
    (p.clone(), File::open(&p).unwrap())
}

#[test]
fn straddling_reads_remap() {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (p, _) = tmpfile(&data);
    let mut m = Input::open(
        &p,
        &WindowOpts {
            window: Some(64 << 10),
            lock: false,
            access: Access::Mmap,
        },
    )
    .unwrap();
    // Every offset class across several window edges.
    for off in [0u64, 1, 65_530, 65_535, 65_536, 131_069, 299_990] {
        let n = 10usize.min((data.len() as u64 - off) as usize);
        assert_eq!(
            m.bytes(off, n).unwrap(),
            &data[off as usize..off as usize + n]
        );
    }
    assert!(m.maps >= 3);
    assert!(m.bytes(299_995, 10).is_err());
    std::fs::remove_file(p).unwrap();
}

#[test]
fn window_size_rules() {
    assert!(
        WindowOpts {
            window: Some(1000),
            ..Default::default()
        }
        .size()
        .is_err()
    );
    let w = WindowOpts {
        window: Some(100_000),
        lock: false,
        access: Access::Mmap,
    }
    .size()
    .unwrap();
    assert_eq!(w % sys::page_size(), 0);
    assert!(w >= 100_000);
}

#[test]
fn auto_samples_both_ways_and_reads_the_same_bytes() {
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
    let (p, _) = tmpfile(&data);
    let mut m = Input::open(&p, &WindowOpts::default()).unwrap();
    m.choose = Some(Chooser::new(m.len(), Some(64 << 10)));
    // Dense: 100-byte steps for 2 MiB, then sparse: 100 KiB steps.
    let mut off = 0u64;
    let mut bufs = 0;
    while off + 12 < data.len() as u64 {
        assert_eq!(
            m.bytes(off, 12).unwrap(),
            &data[off as usize..off as usize + 12],
            "at {off}"
        );
        if matches!(m.cur.as_ref().unwrap().data, Data::Buf(_)) {
            bufs += 1;
        }
        off += if off < 2 << 20 { 100 } else { 100 << 10 };
    }
    let c = m.choose.as_ref().unwrap();
    let (mapped, read) = c.totals();
    assert!(mapped > 0 && read > 0 && bufs > 0, "{mapped} {read} {bufs}");
    assert!(c.rounds >= 1);
    std::fs::remove_file(p).unwrap();
}

#[test]
fn shrunk_file_is_reported_at_remap() {
    let data = vec![7u8; 200_000];
    let (p, _) = tmpfile(&data);
    let mut m = Input::open(
        &p,
        &WindowOpts {
            window: Some(64 << 10),
            lock: false,
            access: Access::Mmap,
        },
    )
    .unwrap();
    m.bytes(0, 10).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(1000).unwrap();
    let e = m.bytes(150_000, 10).unwrap_err();
    assert_eq!(e.kind, Kind::InputChanged);
    std::fs::remove_file(p).unwrap();
}
