//! `mmkit recover`: files cut at every offset, zero-filled tails, in-place
//! truncation, and the temporary of a split killed with SIGKILL. Drives the
//! binary; pcap results are read back by `capinfos` (Debian's tshark
//! package) when it is installed.

mod common;

use common::{TempDir, mmkit, run, stderr, stdout};
use proptest::prelude::*;
use std::path::Path;

/// Record boundaries of a generated (little-endian) file: the end of the
/// file header, then the end of every record.
fn boundaries(bytes: &[u8], pcap: bool) -> Vec<u64> {
    let (hl, rh) = if pcap { (24, 16) } else { (136, 12) };
    let mut v = vec![hl as u64];
    let mut at = hl;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += rh + len;
        v.push(at as u64);
    }
    assert_eq!(at, bytes.len(), "generated file ends on a record boundary");
    v
}

/// Generate a file of about `size` bytes in `t`; its bytes and boundaries.
fn gen_file(t: &TempDir, name: &str, pcap: bool, size: &str) -> (Vec<u8>, Vec<u64>) {
    let p = t.s(name);
    let layout = if pcap { "pcap" } else { "seed" };
    let o = run(&["gen", &p, "--layout", layout, "--size", size]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&p).unwrap();
    let b = boundaries(&bytes, pcap);
    (bytes, b)
}

/// `kept: N records, B bytes` from a report.
fn kept(report: &str) -> (u64, u64) {
    let l = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("kept:"))
        .unwrap_or_else(|| panic!("no kept line in {report}"));
    let f: Vec<&str> = l.split_whitespace().collect();
    (f[0].parse().unwrap(), f[2].parse().unwrap())
}

/// The packet count capinfos reads, or None when capinfos is missing.
fn capinfos_packets(p: &Path) -> Option<u64> {
    let o = std::process::Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(p)
        .output()
        .ok()?;
    assert!(
        o.status.success(),
        "capinfos {}: {}",
        p.display(),
        stderr(&o)
    );
    let s = stdout(&o);
    let n = s
        .lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .unwrap_or_else(|| panic!("capinfos said {s}"));
    Some(n.trim().parse().unwrap())
}

fn check_clean(p: &Path) {
    let c = run(&["check", &p.to_string_lossy()]);
    assert!(c.status.success(), "check: {}", stdout(&c));
}

/// Cut `bytes` at `cut`, recover it to OUT and verify everything.
fn cut_and_recover(bytes: &[u8], b: &[u64], pcap: bool, cut: usize) {
    let t = TempDir::new("cut");
    let ext = if pcap { "pcap" } else { "seed" };
    let input = t.join(&format!("in.{ext}"));
    std::fs::write(&input, &bytes[..cut]).unwrap();
    let out = t.join(&format!("out.{ext}"));
    let o = run(&[
        "recover",
        &input.to_string_lossy(),
        "-o",
        &out.to_string_lossy(),
    ]);
    let report = stdout(&o);
    if (cut as u64) < b[0] {
        assert_eq!(o.status.code(), Some(3), "cut {cut}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("nothing is recoverable"),
            "{}",
            stderr(&o)
        );
        assert!(!out.exists());
        return;
    }
    assert!(o.status.success(), "cut {cut}: {}", stderr(&o));
    // The longest whole-record prefix: the last boundary at or before the cut.
    let n = b.iter().rposition(|&x| x <= cut as u64).unwrap();
    if b[n] == cut as u64 {
        assert!(report.contains("nothing to recover"), "cut {cut}: {report}");
        assert!(!out.exists(), "a clean file is not copied");
        return;
    }
    assert_eq!(kept(&report), (n as u64, b[n]), "cut {cut}: {report}");
    assert!(report.contains("truncated"), "cut {cut}: {report}");
    let got = std::fs::read(&out).unwrap();
    assert!(got == bytes[..b[n] as usize], "cut {cut}: not the prefix");
    check_clean(&out);
    if pcap && let Some(p) = capinfos_packets(&out) {
        assert_eq!(p, n as u64, "capinfos on cut {cut}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32), ..ProptestConfig::default() })]

    /// A 20K pcap and a 20K seed file cut anywhere: recover writes the
    /// longest whole-record prefix, which checks clean (and capinfos reads).
    #[test]
    fn cut_anywhere_recovers_the_longest_whole_prefix(pcap in any::<bool>(), at in 0.0f64..1.0) {
        let t = TempDir::new("gen20k");
        let (bytes, b) = gen_file(&t, "g", pcap, "20K");
        let cut = ((bytes.len() as f64) * at) as usize;
        cut_and_recover(&bytes, &b, pcap, cut);
    }
}

/// Every cut offset of a small file (a dry run each): the report names the
/// longest whole-record prefix, a clean cut is "nothing to recover", a cut
/// file header is exit 3; and the record boundaries ±1 are recovered for real.
#[test]
fn every_cut_offset_of_a_small_file() {
    let t = TempDir::new("every");
    for pcap in [true, false] {
        let p = t.s("g");
        let layout = if pcap { "pcap" } else { "seed" };
        let o = run(&[
            "gen",
            &p,
            "--layout",
            layout,
            "--size",
            "2K",
            "--max-payload",
            "200",
            "-f",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = std::fs::read(&p).unwrap();
        let b = boundaries(&bytes, pcap);
        assert!(b.len() > 5, "{b:?}");
        let cut_path = t.join("cut");
        // Every offset natively; under emulation (a process start costs
        // ~70 ms there) every 13th, plus each record boundary and the
        // offsets beside it, which the second half of this test recovers
        // for real anyway.
        let step = if std::env::var_os("MMKIT_TEST_RUNNER").is_some_and(|r| !r.is_empty()) {
            13
        } else {
            1
        };
        let cuts: Vec<usize> = (0..=bytes.len())
            .filter(|&c| {
                c % step == 0
                    || b.iter().any(|&x| (x as usize).abs_diff(c) <= 1)
                    || c == bytes.len()
            })
            .collect();
        for cut in cuts {
            std::fs::write(&cut_path, &bytes[..cut]).unwrap();
            let o = run(&[
                "recover",
                "-n",
                "--layout",
                layout,
                &cut_path.to_string_lossy(),
            ]);
            if (cut as u64) < b[0] {
                assert_eq!(o.status.code(), Some(3), "{layout} cut {cut}");
                continue;
            }
            assert!(o.status.success(), "{layout} cut {cut}: {}", stderr(&o));
            let r = stdout(&o);
            let n = b.iter().rposition(|&x| x <= cut as u64).unwrap();
            if b[n] == cut as u64 {
                assert!(r.contains("nothing to recover"), "{layout} cut {cut}: {r}");
            } else {
                assert_eq!(kept(&r), (n as u64, b[n]), "{layout} cut {cut}: {r}");
                assert!(r.contains("would write"), "{r}");
            }
        }
        assert_eq!(
            std::fs::read(&cut_path).unwrap(),
            bytes,
            "dry runs change nothing"
        );
        for &x in &b {
            for cut in [x.saturating_sub(1), x, x + 1] {
                if (cut as usize) <= bytes.len() {
                    cut_and_recover(&bytes, &b, pcap, cut as usize);
                }
            }
        }
    }
}

/// A pre-sized output that was never finished ends in zeros: dropped, the
/// result is the original and capinfos agrees.
#[test]
fn zero_filled_tail_is_dropped() {
    let t = TempDir::new("zeros");
    for pcap in [true, false] {
        let name = if pcap { "z.pcap" } else { "z.seed" };
        let (bytes, b) = gen_file(&t, name, pcap, "20K");
        let p = t.join(name);
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(bytes.len() as u64 + 10_000).unwrap();
        drop(f);
        // check accepts a pcap zero tail as empty packets; recover does not.
        let o = run(&["recover", &p.to_string_lossy()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r = stdout(&o);
        assert_eq!(kept(&r), (b.len() as u64 - 1, bytes.len() as u64), "{r}");
        assert!(r.contains("dropped:  10000 bytes"), "{r}");
        let why = if pcap {
            "zero bytes only"
        } else {
            "bad magic 0x00000000"
        };
        assert!(r.contains(why), "{r}");
        let out = if pcap {
            t.join("z.recovered.pcap")
        } else {
            t.join("z.recovered.seed")
        };
        assert!(std::fs::read(&out).unwrap() == bytes);
        check_clean(&out);
        if pcap && let Some(n) = capinfos_packets(&out) {
            assert_eq!(n, b.len() as u64 - 1);
        }
        // The output exists now: refused without --force (exit 4).
        let o = run(&["recover", &p.to_string_lossy()]);
        assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    }
}

#[test]
fn in_place_truncates_and_a_clean_file_is_left_alone() {
    let t = TempDir::new("inplace");
    let (bytes, b) = gen_file(&t, "c.pcap", true, "20K");
    let p = t.join("c.pcap");
    let cut = (b[5] + 7) as usize;
    std::fs::write(&p, &bytes[..cut]).unwrap();
    let ps = p.to_string_lossy();
    let o = run(&["recover", &ps, "--in-place", "-o", &t.s("x")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = run(&["recover", &ps, "--in-place", "-n"]);
    assert!(stdout(&o).contains("would truncate to"), "{}", stdout(&o));
    assert_eq!(std::fs::metadata(&p).unwrap().len(), cut as u64);
    let o = run(&["recover", &ps, "--in-place"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("why:      truncated record header"),
        "{}",
        stdout(&o)
    );
    assert!(std::fs::read(&p).unwrap() == bytes[..b[5] as usize]);
    check_clean(&p);
    if let Some(n) = capinfos_packets(&p) {
        assert_eq!(n, 5);
    }
    let o = run(&["recover", &ps, "--in-place"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("nothing to recover (5 records"),
        "{}",
        stdout(&o)
    );
    assert_eq!(common::names(t.path()), ["c.pcap"]);
}

/// kill -9 a split while its piece 1 is a pre-sized temporary: recover
/// refuses the temporary while the split lives, says nothing is left in it
/// (a header of zeros), and once part of the piece is in it (as when the
/// writer got that far) recovers the whole records beside it, keeping it.
#[test]
fn temporary_of_a_killed_split() {
    let t = TempDir::new("killed");
    let input = t.s("in.seed");
    assert!(run(&["gen", &input, "--size", "3M"]).status.success());
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut cmd = mmkit();
    cmd.args([
        "split",
        &input,
        "-o",
        &out.to_string_lossy(),
        "--size",
        "1M",
        "--write",
        "mmap",
    ]);
    let (mut child, _) = common::spawn_paused(&mut cmd, 30000);
    let tmp_name = common::names(&out)
        .into_iter()
        .find(|n| n.ends_with(".tmp"))
        .expect("the temporary of piece 1");
    assert!(tmp_name.starts_with(".in.0001.seed.mmkit-"), "{tmp_name}");
    let tmp = out.join(&tmp_name);
    let ts = tmp.to_string_lossy().into_owned();
    let live = run(&["recover", &ts]);
    assert_eq!(live.status.code(), Some(6), "{}", stderr(&live));
    assert!(stderr(&live).contains("running mmkit"), "{}", stderr(&live));
    child.kill().unwrap();
    child.wait().unwrap();

    let o = run(&["recover", &ts]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("zero bytes only"), "{}", stderr(&o));

    // The writer got two records and 6 bytes of the third's header into
    // piece 1 (its length field still zero): the file header, then the
    // input's bytes from where piece 0 ended.
    let bytes = std::fs::read(&input).unwrap();
    let b = boundaries(&bytes, false);
    let p0 = std::fs::metadata(out.join("in.0000.seed")).unwrap().len();
    let i = b.iter().position(|&x| x == p0).unwrap();
    let part = (b[i + 2] + 6) as usize;
    let mut content = bytes[..136].to_vec();
    content.extend_from_slice(&bytes[p0 as usize..part]);
    let f = std::fs::OpenOptions::new().write(true).open(&tmp).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &content, 0).unwrap();
    drop(f);
    let o = run(&["recover", &ts]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = stdout(&o);
    let whole = 136 + (b[i + 2] - p0);
    assert_eq!(kept(&r), (2, whole), "{r}");
    assert!(r.contains("zero record length"), "{r}");
    let rec = out.join("in.0001.recovered.seed");
    assert!(r.contains("in.0001.recovered.seed"), "{r}");
    assert!(std::fs::read(&rec).unwrap() == content[..whole as usize]);
    check_clean(&rec);
    assert!(tmp.exists(), "the temporary recovered from is kept");

    // Cut inside the third record's payload instead: its header is whole and
    // the zeros after the cut complete it, so it is kept, with a warning.
    let mid = (b[i + 2] + (b[i + 3] - b[i + 2]) / 2) as usize;
    let mut content = bytes[..136].to_vec();
    content.extend_from_slice(&bytes[p0 as usize..mid]);
    let f = std::fs::OpenOptions::new().write(true).open(&tmp).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &content, 0).unwrap();
    drop(f);
    let rec = out.join("mid.seed");
    let o = run(&["recover", &ts, "-o", &rec.to_string_lossy()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = stdout(&o);
    let whole = 136 + (b[i + 3] - p0);
    assert_eq!(kept(&r), (3, whole), "{r}");
    assert!(
        r.contains("warning:") && r.contains("may have been cut"),
        "{r}"
    );
    check_clean(&rec);
}

/// A custom layout (5-byte file header, 7-byte record headers, a 2-byte
/// big-endian length at offset 3 that counts the header, no magic): cut
/// inside a record, recover with the same flags keeps the longest whole
/// prefix and it checks clean; a zero-filled tail is dropped too. Without
/// the layout flags the file is not recognised and nothing is written.
#[test]
fn a_custom_layout_is_recovered_with_its_flags() {
    const LAYOUT: [&str; 11] = [
        "--layout",
        "custom",
        "--header-len",
        "5",
        "--rec-header-len",
        "7",
        "--len-offset",
        "3",
        "--len-width",
        "2",
        "--len-includes-header",
    ];
    let flags = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = LAYOUT.iter().map(|s| s.to_string()).collect();
        v.extend(["--len-endian", "be", "--no-magic"].map(String::from));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let t = TempDir::new("custom");
    let full = t.s("full.bin");
    let mut g: Vec<String> = vec!["gen".into(), full.clone()];
    g.extend(flags(&[
        "--size",
        "40K",
        "--min-payload",
        "1",
        "--max-payload",
        "700",
        "--seed",
        "9",
    ]));
    let o = run(&g.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&full).unwrap();
    // Boundaries: after the 5-byte header, then each record (length at 3..5,
    // big-endian, counting the 7-byte header).
    let mut b = vec![5usize];
    while *b.last().unwrap() < bytes.len() {
        let at = *b.last().unwrap();
        b.push(at + u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]) as usize);
    }
    assert_eq!(*b.last().unwrap(), bytes.len());
    assert!(b.len() > 50, "{} records", b.len() - 1);
    let recover = |input: &str, out: &str| {
        let mut a: Vec<String> = vec!["recover".into(), input.into(), "-o".into(), out.into()];
        a.extend(flags(&[]));
        run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let check = |p: &str| {
        let mut a: Vec<String> = vec!["check".into()];
        a.extend(flags(&[]));
        a.push(p.into());
        run(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    for (i, cut) in [b[1] + 1, b[20] + 3, b[b.len() - 2] + 6]
        .into_iter()
        .enumerate()
    {
        let inp = t.s(&format!("cut{i}.bin"));
        std::fs::write(&inp, &bytes[..cut]).unwrap();
        let out = t.s(&format!("cut{i}.recovered.bin"));
        let o = recover(&inp, &out);
        assert!(o.status.success(), "cut {cut}: {}", stderr(&o));
        let n = b.iter().rposition(|&x| x <= cut).unwrap();
        assert_eq!(kept(&stdout(&o)), (n as u64, b[n] as u64), "{}", stdout(&o));
        assert!(std::fs::read(&out).unwrap() == bytes[..b[n]], "cut {cut}");
        let c = check(&out);
        assert!(c.status.success(), "check {cut}: {}", stdout(&c));
    }
    // A zero-filled tail: the zero "length" is below the header length.
    let z = t.s("zeros.bin");
    let mut zd = bytes.clone();
    zd.extend([0u8; 3000]);
    std::fs::write(&z, &zd).unwrap();
    let zo = t.s("zeros.recovered.bin");
    let o = recover(&z, &zo);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(kept(&stdout(&o)), (b.len() as u64 - 1, bytes.len() as u64));
    assert!(std::fs::read(&zo).unwrap() == bytes);
    // The control: without the flags the default (seed) layout finds no
    // file header magic, so nothing is recoverable (exit 3).
    let o = run(&["recover", &z, "-o", &t.s("nolayout.bin")]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(!t.join("nolayout.bin").exists());
}
