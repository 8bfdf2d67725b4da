//! pcapng streams: editcap and tshark write the stream (`-w -`), `mmkit
//! split -` cuts it; capinfos and tshark read every piece, the pieces'
//! packets (time, length, interface) are the stream's, and join gives the
//! stream back byte for byte. Also: `--records`, `--follow` on a pcapng
//! file written in bursts, SIGTERM mid-stream, multi-section streams,
//! damage, flat memory, and a live `dumpcap -i lo` when it can capture.

mod common;
use common::pcapng::{capinfos_packets, frames, pieces, unknown_section_lengths};
use common::{TempDir, mmkit, names, run, stderr, stdout};
use common::{emulated, wireshark_peers};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture(name: &str) -> String {
    common::pcapng_fixture(name).to_string_lossy().into_owned()
}

/// The mmkit command line as a shell word list (a runner first, if any).
fn mmkit_sh() -> String {
    let runner = std::env::var("MMKIT_TEST_RUNNER").unwrap_or_default();
    format!("{runner} {}", env!("CARGO_BIN_EXE_mmkit"))
}

fn sh(script: &str) -> std::process::Output {
    let o = Command::new("bash")
        .args(["-c", &format!("set -e -o pipefail; {script}")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{script}: {}{}", stdout(&o), stderr(&o));
    o
}

fn join(t: &TempDir, ps: &[PathBuf]) -> Vec<u8> {
    let j = t.s("joined.pcapng");
    let mut c = mmkit();
    c.arg("join").args(ps).args(["-o", &j, "-f", "--no-sync"]);
    let o = c.output().unwrap();
    assert!(o.status.success(), "join: {}", stderr(&o));
    std::fs::read(&j).unwrap()
}

/// Every piece under `size`, starting with an SHB of Section Length -1,
/// read by capinfos and tshark; the pieces' frames are `want`; join gives
/// `stream` back.
fn judge(t: &TempDir, dir: &Path, size: Option<u64>, stream: &[u8], want: &[String]) {
    let ps = pieces(dir);
    assert!(ps.len() > 1, "{ps:?}");
    let mut got = Vec::new();
    for p in &ps {
        let b = std::fs::read(p).unwrap();
        if let Some(s) = size {
            assert!(b.len() as u64 <= s, "{}: {} bytes", p.display(), b.len());
        }
        assert_eq!(b[..4], [0x0a, 0x0d, 0x0d, 0x0a], "{}", p.display());
        assert_eq!(b[16..24], [0xff; 8], "{}", p.display());
        let f = frames(p);
        assert_eq!(capinfos_packets(p), f.len() as u64, "{}", p.display());
        got.extend(f);
    }
    assert_eq!(got, want, "the pieces' packets are the stream's");
    assert!(join(t, &ps) == stream, "join gives the stream back");
    assert!(!names(dir).iter().any(|n| n.ends_with(".tmp")));
}

/// A capture of two interfaces made by mergecap from two mmkit-made pcaps,
/// as pcapng (editcap's output, SHB Section Length -1).
fn two_interface_capture(t: &TempDir, size: &str) -> PathBuf {
    let (a, b) = (t.s("a.pcap"), t.s("b.pcap"));
    for (p, seed) in [(&a, "1"), (&b, "2")] {
        let o = run(&["gen", p, "--layout", "pcap", "--size", size, "--seed", seed]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let m = t.join("m.pcapng");
    sh(&format!(
        "mergecap -F pcapng -w {} {a} {b} || editcap -F pcapng {a} {}",
        m.display(),
        m.display()
    ));
    m
}

#[test]
fn editcap_and_tshark_write_the_stream_split_cuts_it() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngpipe");
    let m = two_interface_capture(&t, "200K");
    let mm = mmkit_sh();
    // editcap -F pcapng IN - | mmkit split - --size ...
    let (stream, d1) = (t.s("s1.pcapng"), t.join("o1"));
    sh(&format!(
        "editcap -F pcapng {} - | tee {stream} | {mm} split - -o {} --size 48K --no-sync",
        m.display(),
        d1.display()
    ));
    let bytes = std::fs::read(&stream).unwrap();
    judge(&t, &d1, Some(48 << 10), &bytes, &frames(Path::new(&stream)));
    // tshark -r FILE -w - | mmkit split - --records 100
    let (stream, d2) = (t.s("s2.pcapng"), t.join("o2"));
    sh(&format!(
        "tshark -r {} -w - | tee {stream} | {mm} split - -o {} --records 100 --prefix ts --no-sync",
        m.display(),
        d2.display()
    ));
    let bytes = std::fs::read(&stream).unwrap();
    judge(&t, &d2, None, &bytes, &frames(Path::new(&stream)));
    let ps = pieces(&d2);
    assert!(ps[0].to_string_lossy().contains("ts.000000.pcapng"));
    for p in &ps[..ps.len() - 1] {
        assert_eq!(capinfos_packets(p), 100, "{}", p.display());
    }
}

#[test]
fn multi_section_and_mixed_endian_streams() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngsect");
    for name in ["multi-section", "mixed-endian", "secrets"] {
        let f = fixture(name);
        let d = t.join(name);
        sh(&format!(
            "cat {f} | {} split - -o {} --size 5000 --no-sync",
            mmkit_sh(),
            d.display()
        ));
        let want = unknown_section_lengths(std::fs::read(&f).unwrap());
        judge(&t, &d, None, &want, &frames(Path::new(&f)));
    }
}

#[test]
fn follow_a_pcapng_file_written_in_bursts() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngfollow");
    let m = two_interface_capture(&t, "200K");
    let data = std::fs::read(&m).unwrap();
    let grow = t.join("live.pcapng");
    std::fs::write(&grow, &data[..10]).unwrap();
    let d = t.join("out");
    let child = mmkit()
        .arg("split")
        .arg(&grow)
        .args([
            "--follow",
            "--idle",
            "2",
            "--size",
            "50K",
            "--no-sync",
            "-o",
        ])
        .arg(&d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bursts cut anywhere, inside blocks and headers.
    common::append_in_bursts(&grow, &data[10..], 37_001, 100);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    judge(&t, &d, Some(50 << 10), &data, &frames(&m));
}

#[test]
fn sigterm_mid_stream_keeps_whole_blocks() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngterm");
    let m = two_interface_capture(&t, "200K");
    let data = std::fs::read(&m).unwrap();
    let d = t.join("out");
    let ds = d.to_string_lossy();
    let mut child = common::spawn_piped(&["split", "-", "--size", "40K", "--no-sync", "-o", &ds]);
    let mut stdin = child.stdin.take().unwrap();
    let cut = 150_001;
    stdin.write_all(&data[..cut]).unwrap();
    std::thread::sleep(Duration::from_millis(if emulated() { 1500 } else { 500 }));
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(o.status.code(), Some(128 + libc::SIGTERM), "{}", stderr(&o));
    let ps = pieces(&d);
    let joined = join(&t, &ps);
    assert!(
        joined.len() <= cut && joined.len() > cut - 2000,
        "{}",
        joined.len()
    );
    assert!(joined == data[..joined.len()], "a prefix of the stream");
    let j = t.join("joined.pcapng");
    let c = run(&["check", &j.to_string_lossy()]);
    assert!(c.status.success(), "{}", stdout(&c));
    let all = frames(&m);
    let got = frames(&j);
    assert!(!got.is_empty() && got[..] == all[..got.len()]);
    assert!(!names(&d).iter().any(|n| n.ends_with(".tmp")));
}

#[test]
fn damage_mid_stream_is_exit_3_after_the_blocks_before_it() {
    let t = TempDir::new("ngdamage");
    let data = std::fs::read(fixture("single")).unwrap();
    // The trailing length of the 4th block, wrong.
    let mut at = 0usize;
    for _ in 0..4 {
        at += u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
    }
    let mut bad = data.clone();
    bad[at - 4] ^= 0x40;
    let input = t.join("bad.pcapng");
    std::fs::write(&input, &bad).unwrap();
    let d = t.join("out");
    let o = mmkit()
        .args(["split", "-", "--no-sync", "-o"])
        .arg(&d)
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let first = u32::from_le_bytes(data[4..8].try_into().unwrap()) as usize;
    let third_end = {
        let mut a = 0usize;
        for _ in 0..3 {
            a += u32::from_le_bytes(data[a + 4..a + 8].try_into().unwrap()) as usize;
        }
        a
    };
    assert!(
        stderr(&o).contains("trailing block length"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&format!("byte {third_end}")),
        "{}",
        stderr(&o)
    );
    let ps = pieces(&d);
    assert_eq!(ps.len(), 1);
    let kept = std::fs::read(&ps[0]).unwrap();
    assert!(kept == data[..third_end], "{} of {first}..", kept.len());
}

#[test]
fn memory_stays_flat_on_a_long_pcapng_stream() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngrss");
    let pcap = t.s("big.pcap");
    let o = run(&["gen", &pcap, "--layout", "pcap", "--size", "32M"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let d = t.s("out");
    let o = sh(&format!(
        "editcap -F pcapng {pcap} - | /usr/bin/time -f 'maxrss %M' {} split - -o {d} --size 4M --no-sync --ring 2",
        mmkit_sh()
    ));
    let err = stderr(&o);
    let kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if !emulated() {
        assert!(kib <= 8 * 1024, "peak RSS {kib} KiB");
    }
    assert_eq!(pieces(Path::new(&d)).len(), 2);
}

/// A live capture: `dumpcap -i lo -w -` while this test sends datagrams on
/// lo. Skipped (with the reason) where dumpcap cannot capture.
#[test]
fn dumpcap_live_capture_when_it_can() {
    if !wireshark_peers() {
        return;
    }
    let probe = Command::new("sh")
        .args(["-c", "timeout 5 dumpcap -q -i lo -c 1 -w /dev/null -f 'udp port 9' & sleep 1; printf x | (command -v nc >/dev/null && nc -u -w1 127.0.0.1 9 || true); wait"])
        .output();
    let can = probe.as_ref().is_ok_and(|o| o.status.success());
    if !can || emulated() {
        eprintln!(
            "SKIP: dumpcap cannot capture on lo here (needs root or CAP_NET_RAW, and an lo interface): {}",
            probe.map(|o| stderr(&o)).unwrap_or_default()
        );
        return;
    }
    let t = TempDir::new("ngdumpcap");
    let d = t.join("out");
    let stream = t.s("live.pcapng");
    let sender = std::thread::spawn(|| {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        for i in 0..400u32 {
            let _ = s.send_to(&[i as u8; 700], "127.0.0.1:9");
        }
    });
    sh(&format!(
        "timeout 20 dumpcap -q -i lo -f 'udp port 9' -c 400 -w - | tee {stream} | {} split - -o {} --size 40K --no-sync",
        mmkit_sh(),
        d.display()
    ));
    sender.join().unwrap();
    let bytes = std::fs::read(&stream).unwrap();
    judge(&t, &d, Some(40 << 10), &bytes, &frames(Path::new(&stream)));
}

/// SIGKILL mid-stream with `--write mmap` (a piece pre-sized to the limit:
/// its tail is zeros), then `recover` on the stale temporary: a prefix of
/// the stream ending at a whole block, read by tshark.
#[test]
fn sigkill_mid_stream_then_recover_the_pcapng_temporary() {
    let peers = wireshark_peers();
    let t = TempDir::new("ngkill9");
    let data = std::fs::read(fixture("multi-section")).unwrap();
    let d = t.join("out");
    let mut child = mmkit()
        .args([
            "split",
            "-",
            "--size",
            "1M",
            "--no-sync",
            "--write",
            "mmap",
            "-o",
        ])
        .arg(&d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let cut = 15_001;
    stdin.write_all(&data[..cut]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(if emulated() { 2000 } else { 700 }));
    child.kill().unwrap();
    let _ = child.wait();
    drop(stdin);
    let tmp = names(&d)
        .into_iter()
        .find(|n| n.ends_with(".tmp"))
        .expect("the killed split's temporary");
    let tmp = d.join(tmp);
    let out = t.join("recovered.pcapng");
    let o = mmkit()
        .arg("recover")
        .arg(&tmp)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("zero"), "{}", stdout(&o));
    let got = std::fs::read(&out).unwrap();
    let want = unknown_section_lengths(data.clone());
    assert!(got.len() > 1000 && got.len() <= cut, "{}", got.len());
    assert!(got == want[..got.len()], "a prefix of the stream");
    let c = run(&["check", &out.to_string_lossy()]);
    assert!(c.status.success(), "{}", stdout(&c));
    if peers {
        let all = frames(Path::new(&fixture("multi-section")));
        let f = frames(&out);
        assert!(!f.is_empty() && f[..] == all[..f.len()]);
    }
}

/// `--records N` cuts a pcapng file split where it cuts the same bytes
/// streamed: N packets per piece (the last the rest), the pieces of the
/// two byte-identical, capinfos counting N in each. A piece with N packets
/// closes before the next block it would keep, except an ISB: the `isb`
/// fixture's closing ISBs stay in the last piece, with its packets.
#[test]
fn records_cut_a_file_split_as_a_stream_split() {
    let t = TempDir::new("ngrecords");
    for fx in ["multi-section", "isb", "single"] {
        let input = fixture(fx);
        let (df, ds) = (t.s(&format!("{fx}-file")), t.s(&format!("{fx}-stream")));
        let o = run(&[
            "split",
            &input,
            "-o",
            &df,
            "--records",
            "3",
            "--prefix",
            "ng",
        ]);
        assert!(o.status.success(), "{fx}: {}", stderr(&o));
        let o = mmkit()
            .args(["split", "-", "-o", &ds, "--records", "3", "--prefix", "ng"])
            .stdin(std::fs::File::open(&input).unwrap())
            .output()
            .unwrap();
        assert!(o.status.success(), "{fx}: {}", stderr(&o));
        let (pf, ps) = (pieces(Path::new(&df)), pieces(Path::new(&ds)));
        assert!(pf.len() >= 3, "{fx}: {pf:?}");
        assert_eq!(pf.len(), ps.len(), "{fx}");
        for (a, b) in pf.iter().zip(&ps) {
            assert!(
                std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
                "{fx}: {} differs from {}",
                a.display(),
                b.display()
            );
        }
        if wireshark_peers() {
            let counts: Vec<u64> = pf.iter().map(|p| capinfos_packets(p)).collect();
            let last = counts.len() - 1;
            assert!(counts[..last].iter().all(|&c| c == 3), "{fx}: {counts:?}");
            assert!((1..=3).contains(&counts[last]), "{fx}: {counts:?}");
            assert!(counts.iter().sum::<u64>() == capinfos_packets(Path::new(&input)));
        }
        if fx == "isb" {
            let c = stdout(&run(&["check", pf.last().unwrap().to_str().unwrap()]));
            assert!(
                c.contains("ISB 2"),
                "{fx}: the ISBs are not in the last piece: {c}"
            );
        }
    }
}
