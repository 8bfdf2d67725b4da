//! pcapng inputs whose section prefix is large: one big Decryption Secrets
//! Block, or up to 1,000,000 Interface Description Blocks. A split never
//! writes a piece over `--size`: a prefix that does not fit is refused
//! (exit 2) before anything is written when that is so at the start, and
//! where it stops fitting otherwise, the pieces before it complete (capinfos
//! reads them). A stream split holds at most 8 MiB of prefix (exit 10), and
//! `check` reports every interface count in bounded memory.

mod common;
use common::pcapng::{capinfos_packets, pieces};
use common::{TempDir, code, emulated, fails, mmkit, output_within, run, stderr, stdout};
use common::{names, wireshark_peers};
use std::path::Path;
use std::process::Stdio;

/// Little-endian pcapng blocks.
fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (padded + 12) as u32;
    let mut v = t.to_le_bytes().to_vec();
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(body);
    v.resize(8 + padded, 0);
    v.extend_from_slice(&total.to_le_bytes());
    v
}

fn shb() -> Vec<u8> {
    let mut b = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    b.extend_from_slice(&[1, 0, 0, 0]);
    b.extend_from_slice(&u64::MAX.to_le_bytes());
    block(0x0A0D_0D0A, &b)
}

/// Ethernet, snaplen 65535: 20 bytes.
fn idb() -> Vec<u8> {
    let mut b = 1u16.to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    block(1, &b)
}

/// A TLS key log Decryption Secrets Block with `n` bytes of secrets.
fn dsb(n: usize) -> Vec<u8> {
    let mut b = 0x544c_534bu32.to_le_bytes().to_vec();
    b.extend_from_slice(&(n as u32).to_le_bytes());
    b.extend((0..n).map(|i| b"0123456789abcdef"[i % 16]));
    block(0x0A, &b)
}

/// An Enhanced Packet Block on interface 0: `n` bytes, 1 ms apart.
fn epb(i: u64, n: usize) -> Vec<u8> {
    let ts = 1_700_000_000_000_000 + i * 1000;
    let mut b = 0u32.to_le_bytes().to_vec();
    b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(ts as u32).to_le_bytes());
    b.extend_from_slice(&(n as u32).to_le_bytes());
    b.extend_from_slice(&(n as u32).to_le_bytes());
    b.extend((0..n).map(|k| (k as u64 + i) as u8));
    block(6, &b)
}

/// SHB, one IDB, a 300 KB DSB, then 1,000 packets of 100 bytes: 432 KB.
fn big_secrets() -> Vec<u8> {
    let mut f = shb();
    f.extend(idb());
    f.extend(dsb(299_980));
    for i in 0..1000 {
        f.extend(epb(i, 100));
    }
    f
}

/// SHB, `before` IDBs, `packets` packets, `after` IDBs, `packets` packets.
fn many_interfaces(before: usize, packets: u64, after: usize) -> Vec<u8> {
    let one = idb();
    let mut f = shb();
    for _ in 0..before {
        f.extend_from_slice(&one);
    }
    for i in 0..packets {
        f.extend(epb(i, 60));
    }
    for _ in 0..after {
        f.extend_from_slice(&one);
    }
    for i in 0..packets {
        f.extend(epb(packets + i, 60));
    }
    f
}

fn write(t: &TempDir, name: &str, data: &[u8]) -> String {
    let p = t.s(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// The number after `needle` in `text`.
fn number_after(text: &str, needle: &str) -> u64 {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in {text}"))
        + needle.len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("a number after {needle:?} in {text}"))
}

/// Every piece is at most `size` bytes, and capinfos reads it; their packets.
fn judge_pieces(dir: &Path, size: u64) -> u64 {
    let ps = pieces(dir);
    assert!(!ps.is_empty(), "no pieces in {}", dir.display());
    let mut packets = 0;
    for p in &ps {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= size, "{} is {len} bytes, over {size}", p.display());
        if wireshark_peers() {
            packets += capinfos_packets(p);
        }
    }
    packets
}

#[test]
fn a_prefix_that_does_not_fit_at_the_start_is_refused_before_anything_is_written() {
    let t = TempDir::new("nglim-start");
    let data = big_secrets();
    assert_eq!(data.len(), 432_048);
    let f = write(&t, "secrets.pcapng", &data);
    let d = t.join("out");
    for dry in [true, false] {
        let mut args = vec!["split", &f, "-o", d.to_str().unwrap(), "--size", "100K"];
        if dry {
            args.push("-n");
        }
        let o = run(&args);
        // SHB 28 + IDB 20 + DSB 300,000; the first packet 132.
        fails(&o, 2, "the section prefix at the start is 300048 bytes");
        assert!(
            stderr(&o).contains("the smallest workable --size is 300180"),
            "{}",
            stderr(&o)
        );
        assert!(!d.exists() || names(&d).is_empty(), "{:?}", names(&d));
    }
    // The size it names works (one packet a piece past the first) ...
    let o = run(&[
        "split",
        &f,
        "-o",
        d.to_str().unwrap(),
        "--size",
        "300180",
        "-n",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.exists() || names(&d).is_empty(), "{:?}", names(&d));
    // ... and a little more holds about 130 packets a piece.
    let o = run(&["split", &f, "-o", d.to_str().unwrap(), "--size", "310K"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("goes alone"), "{}", stderr(&o));
    let n = pieces(&d).len();
    assert!((2..=10).contains(&n), "{n} pieces");
    let packets = judge_pieces(&d, 310 << 10);
    if wireshark_peers() {
        assert_eq!(packets, 1000);
    }
    // The stream split refuses the same block; what it wrote is valid.
    let sd = t.join("stream");
    let o = mmkit()
        .args(["split", "-", "-o", sd.to_str().unwrap(), "--size", "100K"])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    fails(
        &o,
        2,
        "the block at byte 48 (300000 bytes) does not fit in --size 102400",
    );
    assert!(
        stderr(&o).contains("--size 300048 or more"),
        "{}",
        stderr(&o)
    );
    assert_eq!(judge_pieces(&sd, 100 << 10), 0);
}

#[test]
fn a_prefix_that_outgrows_the_size_mid_section_stops_there_with_the_pieces_before_it() {
    let t = TempDir::new("nglim-mid");
    // 200 packets, then 4,000 IDBs (80 KB) in the same section.
    let data = many_interfaces(1, 200, 4000);
    let f = write(&t, "ifaces.pcapng", &data);
    let d = t.join("out");
    let size = 40u64 << 10;
    // The plan alone stops (each IDB past 40 KB would go alone otherwise).
    let o = run(&[
        "split",
        &f,
        "-o",
        d.to_str().unwrap(),
        "--size",
        "40K",
        "-n",
    ]);
    fails(&o, 2, "does not fit in --size 40960 after the");
    let o = run(&["split", &f, "-o", d.to_str().unwrap(), "--size", "40K"]);
    fails(&o, 2, "piece(s) before it are complete");
    let at = number_after(&stderr(&o), "the block at byte ");
    let prefix = number_after(&stderr(&o), "after the ");
    assert!(prefix <= size && prefix + 20 > size, "{}", stderr(&o));
    assert!(at > 48 + 200 * 92, "{}", stderr(&o));
    let ps = pieces(&d);
    assert!(ps.len() >= 2, "{ps:?}");
    // The pieces before the block: the input up to it, each within --size.
    let packets = judge_pieces(&d, size);
    if wireshark_peers() {
        assert_eq!(packets, 200);
    }
    for n in names(&d).iter().filter(|n| n.contains("manifest")) {
        let m = std::fs::read_to_string(d.join(n)).unwrap();
        assert!(!m.contains("\"complete\": true"), "{m}");
    }
    // The stream split stops at the same block.
    let sd = t.join("stream");
    let o = mmkit()
        .args(["split", "-", "-o", sd.to_str().unwrap(), "--size", "40K"])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    fails(
        &o,
        2,
        &format!("the block at byte {at} (20 bytes) does not fit"),
    );
    let packets = judge_pieces(&sd, size);
    if wireshark_peers() {
        assert_eq!(packets, 200);
    }
}

#[test]
fn check_of_a_million_interfaces_keeps_memory_flat() {
    let t = TempDir::new("nglim-check");
    let f = write(&t, "million.pcapng", &many_interfaces(1_000_000, 10, 0));
    // check: every interface counted, the first 64 described, memory flat
    // (peak RSS measured natively only: under emulation it is QEMU's).
    let mut cmd = if emulated() {
        mmkit()
    } else {
        let mut c = std::process::Command::new("/usr/bin/time");
        c.args(["-f", "maxrss %M"]).arg(env!("CARGO_BIN_EXE_mmkit"));
        c
    };
    let o = cmd
        .args(["check", &f])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let head = &out[..out.len().min(4000)];
    assert!(out.contains("interfaces: 1000000"), "{head}");
    assert!(out.contains("#63 (section 0, id 63)"), "{head}");
    assert!(!out.contains("#64 "), "{head}");
    assert!(
        out.contains("999936 more interfaces (0 packets) are counted, not listed"),
        "{head}"
    );
    assert!(out.contains("packets:  20"), "{head}");
    if !emulated() {
        let kib = number_after(&stderr(&o), "maxrss ");
        eprintln!("check of 1,000,000 IDBs: peak RSS {kib} KiB");
        assert!(kib <= 32 * 1024, "peak RSS {kib} KiB");
    }
}

#[test]
fn a_million_interfaces_are_refused_by_the_plan_at_once() {
    let t = TempDir::new("nglim-1m");
    let f = write(&t, "million.pcapng", &many_interfaces(1_000_000, 10, 0));
    let d = t.s("out");
    // The plan is refused at once (the prefix is 20 MB), nothing written.
    let mut cmd = mmkit();
    cmd.args(["split", &f, "-o", &d, "--size", "100K", "-n"]);
    let o = output_within(&mut cmd, 300).expect("split -n finishes");
    fails(&o, 2, "the section prefix at the start is 20000028 bytes");
    assert!(
        stderr(&o).contains("the smallest workable --size is 20000120"),
        "{}",
        stderr(&o)
    );
    // A size that holds it: one piece, planned block by block.
    let mut cmd = mmkit();
    cmd.args(["split", &f, "-o", &d, "--size", "32M", "-n"]);
    let o = output_within(&mut cmd, 300).expect("split -n finishes");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_stream_prefix_past_8_mib_is_refused_where_it_stops_fitting() {
    let t = TempDir::new("nglim-mem");
    // Three 3 MB DSBs after 10 packets: the third takes the prefix past 8 MiB.
    let mut data = shb();
    data.extend(idb());
    for i in 0..10 {
        data.extend(epb(i, 100));
    }
    let mut third = 0;
    for k in 0..3 {
        if k == 2 {
            third = data.len();
        }
        data.extend(dsb(3_000_000));
    }
    data.extend(epb(10, 100));
    let f = write(&t, "keys.pcapng", &data);
    let d = t.join("out");
    let o = mmkit()
        .args(["split", "-", "-o", d.to_str().unwrap(), "--size", "64M"])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    fails(
        &o,
        10,
        "would grow past the 8388608 bytes a stream split holds",
    );
    assert!(
        stderr(&o).contains(&format!("at byte {third}"))
            || stderr(&o).contains(&format!("offset {third}")),
        "{}",
        stderr(&o)
    );
    // The blocks before it are kept, as a valid pcapng.
    let ps = pieces(&d);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(std::fs::metadata(&ps[0]).unwrap().len(), third as u64);
    if wireshark_peers() {
        assert_eq!(capinfos_packets(&ps[0]), 10);
    }
}
