//! Live data (issue 12), the controls of a stream split: `--follow` ended by
//! a signal, memory while following, `--size`, `--records` and `--seconds`
//! together (the first limit reached closes the piece), and `--exec` with
//! `{}` run one command at a time.

mod common;
use common::run_ok as ok;
use common::{TempDir, emulated, run, stderr, stdout};
use common::{join_bytes, pieces_ext, seed_bounds};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::spawn_piped as spawn;

/// A recorder writes part of its file, the last record only half; a signal
/// ends `--follow`: exit 128+sig, no temporary, and the pieces hold every
/// whole record written so far (and nothing of the half one).
#[test]
fn a_signal_ends_follow_with_every_whole_record_kept() {
    let t = TempDir::new("follow-sig");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "600K"]);
    let data = std::fs::read(&f).unwrap();
    let b = seed_bounds(&data);
    for (name, sig) in [("term", libc::SIGTERM), ("int", libc::SIGINT)] {
        let grow = t.s(&format!("{name}.dat"));
        std::fs::write(&grow, &data[..500]).unwrap();
        let d = t.s(name);
        let child = spawn(&[
            "split", &grow, "--follow", "--idle", "60", "-o", &d, "--size", "100K",
        ]);
        // Half of the file in bursts, ending inside a record; the writer
        // keeps the file open (a recorder that is still running).
        let cut = 333_333;
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&grow)
            .unwrap();
        for c in data[500..cut].chunks(50_000) {
            std::thread::sleep(Duration::from_millis(50));
            w.write_all(c).unwrap();
        }
        std::thread::sleep(Duration::from_millis(if emulated() { 2500 } else { 800 }));
        common::signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        drop(w);
        assert_eq!(o.status.code(), Some(128 + sig), "{name}: {}", stderr(&o));
        let dir = Path::new(&d);
        common::assert_no_temporaries(dir, name);
        let whole = *b.iter().rfind(|&&x| x <= cut).unwrap();
        assert!(whole < cut, "the cut is inside a record");
        let joined = join_bytes(&t, &pieces_ext(dir, ".dat"));
        assert_eq!(joined.len(), whole, "{name}: every whole record is kept");
        assert!(joined[..] == data[..whole], "{name}: a prefix of the file");
        let c = run(&["check", &t.s("joined")]);
        assert!(c.status.success(), "{name}: {}", stdout(&c));
    }
}

/// Following a 48 MiB recording as it grows: peak RSS stays under 8 MiB
/// (the windows are released behind the walk), and the pieces join back.
#[test]
fn memory_stays_flat_while_following() {
    if emulated() {
        // QEMU's own memory is in the RSS; the host run is the measurement.
        return;
    }
    assert!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time is needed (apt-get install time)"
    );
    let t = TempDir::new("follow-rss");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "48M", "--seed", "5"]);
    let data = std::fs::read(&f).unwrap();
    let grow = t.s("grow.dat");
    std::fs::write(&grow, &data[..4096]).unwrap();
    let d = t.s("out");
    let child = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss %M", env!("CARGO_BIN_EXE_mmkit")])
        .args([
            "split",
            &grow,
            "--follow",
            "--idle",
            "5",
            "-o",
            &d,
            "--size",
            "10M",
            "--no-sync",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::append_in_bursts(&grow, &data[4096..], 1_000_003, 20);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let kib: u64 = stderr(&o)
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    assert!(kib <= 8 * 1024, "peak RSS {kib} KiB while following");
    let ps = pieces_ext(Path::new(&d), ".dat");
    assert!(ps.len() >= 5, "{ps:?}");
    assert!(join_bytes(&t, &ps) == data, "the pieces join to the file");
}

/// A little-endian pcap header (snaplen 65535, Ethernet).
fn pcap_header() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend(0xa1b2_c3d4u32.to_le_bytes());
    h.extend(2u16.to_le_bytes());
    h.extend(4u16.to_le_bytes());
    h.extend([0u8; 8]);
    h.extend(65535u32.to_le_bytes());
    h.extend(1u32.to_le_bytes());
    h
}

/// `n` pcap records of `len` payload bytes, timestamps from `t0`.
fn pcap_records(n: usize, len: usize, t0: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend((t0 + i as u32).to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend((len as u32).to_le_bytes());
        v.extend((len as u32).to_le_bytes());
        v.extend(std::iter::repeat_n((i % 251) as u8, len));
    }
    v
}

/// Records per piece: the pcap record lengths walked from byte 24.
fn pcap_counts(ps: &[String]) -> Vec<usize> {
    ps.iter()
        .map(|p| {
            let d = std::fs::read(p).unwrap();
            let (mut at, mut n) = (24, 0);
            while at < d.len() {
                at += 16 + u32::from_le_bytes(d[at + 8..at + 12].try_into().unwrap()) as usize;
                n += 1;
            }
            assert_eq!(at, d.len(), "{p} ends on a record");
            n
        })
        .collect()
}

/// `--size 100K --records 10 --seconds 1` on one stream: small records in a
/// burst close pieces at 10 records, big ones at the size, and two pauses
/// close pieces by time; every piece is within every limit.
#[test]
fn the_first_limit_reached_closes_the_piece() {
    let t = TempDir::new("limits");
    let d = t.s("out");
    let mut child = spawn(&[
        "split",
        "-",
        "-o",
        &d,
        "--prefix",
        "lim",
        "--layout",
        "pcap",
        "--size",
        "100K",
        "--records",
        "10",
        "--seconds",
        "1",
        "--no-sync",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    let mut sent = pcap_header();
    // 40 small records: 4 pieces of 10 (the count limit).
    sent.extend(pcap_records(40, 60, 1_000));
    // 20 records of 30,016 bytes: 3 fit in 100 KiB with the header, so
    // 6 pieces of 3 (the size limit) and 2 left over.
    sent.extend(pcap_records(20, 30_000, 2_000));
    stdin.write_all(&sent).unwrap();
    stdin.flush().unwrap();
    // Idle longer than --seconds: the 2 left over are closed by time, then
    // 2 small records, idle again, 2 more and the end of the stream.
    let pause = Duration::from_millis(if emulated() { 4000 } else { 2500 });
    for k in 0..2 {
        std::thread::sleep(pause);
        let r = pcap_records(2, 100, 3_000 + 2 * k);
        stdin.write_all(&r).unwrap();
        stdin.flush().unwrap();
        sent.extend(r);
    }
    std::thread::sleep(pause);
    let r = pcap_records(2, 100, 4_000);
    stdin.write_all(&r).unwrap();
    sent.extend(r);
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".pcap");
    assert_eq!(
        pcap_counts(&ps),
        [10, 10, 10, 10, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2],
        "{ps:?}"
    );
    for p in &ps {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= 100 * 1024, "{p}: {len} bytes");
    }
    assert!(join_bytes(&t, &ps) == sent, "the pieces join to the stream");
}

/// `--exec` with `{}`: the path replaces `{}` (and is not appended too), the
/// piece is complete and in place when the command starts, and the commands
/// run one at a time, in order, even when each outlasts a rotation.
#[test]
fn exec_substitutes_braces_and_runs_one_at_a_time() {
    let t = TempDir::new("exec1");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "300K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let log = t.s("exec.log");
    let lock = t.s("lock");
    // Each run takes a lock directory (mkdir fails if another run holds
    // it), logs its argument count, path and the piece's size, and sleeps.
    let cmd = format!(
        "sh -c 'mkdir {lock} || echo OVERLAP >> {log}; echo \"$# $1 $(wc -c < $1)\" >> {log}; sleep 0.3; rmdir {lock}' x {{}}"
    );
    let mut child = spawn(&["split", "-", "-o", &d, "--size", "50K", "--exec", &cmd]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".dat");
    assert!(ps.len() >= 6, "{ps:?}");
    let ran = std::fs::read_to_string(&log).unwrap();
    assert!(!ran.contains("OVERLAP"), "two commands at once:\n{ran}");
    let want: Vec<String> = ps
        .iter()
        .map(|p| format!("1 {p} {}", std::fs::metadata(p).unwrap().len()))
        .collect();
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        want,
        "once per piece, in order"
    );
    assert!(
        !Path::new(&lock).exists(),
        "split waited for the last command"
    );
    assert!(join_bytes(&t, &ps) == data);
}

/// `kill -9` while the producer pauses: everything mmkit read is already in
/// the piece's temporary (small writes are gathered, but written before
/// each wait for input). The producer writes like `tcpdump -U`: a few dozen
/// bytes at a time; it stops inside a record's body (seed) or inside a
/// packet block's body past its first 64 bytes (pcapng), so nothing at all
/// may be held back.
#[test]
fn sigkill_loses_nothing_that_was_read() {
    let t = TempDir::new("kill9-all");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "300K", "--seed", "3"]);
    let seed = std::fs::read(&f).unwrap();
    let b = seed_bounds(&seed);
    let seed_cut = b[b.len() / 2] + 20;
    let ng = std::fs::read(common::pcapng_fixture("single")).unwrap();
    // Block starts (the fixture is little-endian): a block after the
    // first few, cut 80 bytes into it (its blocks are longer than that).
    let mut starts = vec![0usize];
    while let Some(&at) = starts.last() {
        let len = u32::from_le_bytes(ng[at + 4..at + 8].try_into().unwrap()) as usize;
        if at + len >= ng.len() {
            break;
        }
        starts.push(at + len);
    }
    let k = starts.len() / 2;
    let ng_len = u32::from_le_bytes(ng[starts[k] + 4..starts[k] + 8].try_into().unwrap());
    assert!(ng_len > 100, "block {k} is {ng_len} bytes");
    let ng_cut = starts[k] + 80;
    // The first SHB of a piece has Section Length -1.
    let ng_want = common::pcapng::unknown_section_lengths(ng.clone());
    for (name, data, cut, want) in [
        ("seed", &seed, seed_cut, seed.clone()),
        ("pcapng", &ng, ng_cut, ng_want),
    ] {
        let d = t.s(&format!("out-{name}"));
        let mut child = spawn(&["split", "-", "-o", &d, "--size", "10M", "--no-sync"]);
        let mut stdin = child.stdin.take().unwrap();
        for c in data[..cut].chunks(37) {
            stdin.write_all(c).unwrap();
            stdin.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(if emulated() { 2000 } else { 600 }));
        child.kill().unwrap();
        let _ = child.wait();
        drop(stdin);
        let tmp = common::names(Path::new(&d))
            .into_iter()
            .find(|n| n.ends_with(".tmp"))
            .expect("the killed split's temporary");
        let got = std::fs::read(Path::new(&d).join(tmp)).unwrap();
        assert_eq!(got.len(), cut, "{name}: bytes read but not in the file");
        assert!(got == want[..cut], "{name}: not the stream's bytes");
    }
}
