//! Where a stream's pieces go when the way is not clear: a full disk keeps
//! the piece being written up to its last whole record written, a name
//! taken mid-stream makes the piece take another, a stream bad from its
//! first record leaves no piece, and a `--size` too small for a record is
//! refused once. Real peers: capinfos reads the pieces.

mod common;
use common::{TempDir, Tmpfs, code, mmkit, run_ok, stderr};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const HDR: usize = 24;

/// A little-endian microsecond pcap file header (Ethernet).
fn pcap_header() -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

/// Record `i`: a 16-byte header and `len` bytes of data.
fn record(i: u32, len: usize) -> Vec<u8> {
    let mut r = Vec::with_capacity(16 + len);
    r.extend_from_slice(&i.to_le_bytes());
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&(len as u32).to_le_bytes());
    r.extend_from_slice(&(len as u32).to_le_bytes());
    r.extend((0..len).map(|k| (k as u32 * 7 + i) as u8));
    r
}

/// The pieces the manifest lists, in order, and whether it says complete.
fn manifest(dir: &Path, prefix: &str) -> (Vec<(String, u64, u64)>, bool) {
    let text = std::fs::read_to_string(dir.join(format!("{prefix}.manifest"))).unwrap();
    let pieces = text
        .lines()
        .filter_map(|l| l.strip_prefix("piece "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[4].to_string(),
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
            )
        })
        .collect();
    (pieces, text.contains("state complete"))
}

/// The records of the listed pieces, one after the other (each piece
/// checked whole by capinfos, with the record count the manifest says).
fn records_of(dir: &Path, pieces: &[(String, u64, u64)]) -> Vec<u8> {
    let mut all = Vec::new();
    for (name, bytes, records) in pieces {
        let p = dir.join(name);
        let b = std::fs::read(&p).unwrap();
        assert_eq!(b.len() as u64, *bytes, "{name}");
        assert_eq!(capinfos_packets(&p), *records, "{name}");
        all.extend_from_slice(&b[HDR..]);
    }
    all
}

fn capinfos_packets(p: &Path) -> u64 {
    let o = std::process::Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(p)
        .output()
        .expect("capinfos (apt-get install tshark)");
    assert!(
        o.status.success(),
        "capinfos {}: {}",
        p.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a packet count")
}

fn split_stdin(args: &[&str]) -> Child {
    common::spawn_piped(&[&["split", "-"], args].concat())
}

/// Wait (up to 20 s) until a file whose name starts with `start` is in `dir`.
fn wait_for(dir: &Path, start: &str) {
    let t0 = Instant::now();
    loop {
        if std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(start))
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no {start}* in {dir:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn full_disk_keeps_the_piece_at_its_last_whole_record(write: &str) {
    let t = TempDir::new("full");
    let f = t.s("big.pcap");
    run_ok(&["gen", &f, "--layout", "pcap", "--size", "5M"]);
    let data = std::fs::read(&f).unwrap();
    let fs = Tmpfs::mount("full-fs", "3m");
    let d = fs.0.path();
    let mut child = split_stdin(&["-o", &d.to_string_lossy(), "--size", "1M", "--write", write]);
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        // mmkit stops reading at the full disk: the rest is refused (EPIPE).
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    feed.join().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 5, "{write}: {err}");
    let (pieces, complete) = manifest(d, "stdin");
    assert!(!complete, "{write}: the set is cut, not complete");
    assert_eq!(pieces.len(), 3, "{write}: {pieces:?} {err}");
    let (name, bytes, records) = &pieces[2];
    assert!(
        err.contains(&format!("{name}: kept {bytes} bytes, {records} records")),
        "{write}: {err}"
    );
    assert!(*records > 0, "{write}: {pieces:?}");
    let got = records_of(d, &pieces);
    let data = std::fs::read(&f).unwrap();
    assert_eq!(
        got,
        data[HDR..HDR + got.len()],
        "{write}: a prefix of the stream"
    );
    let names = common::names(d);
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn a_full_disk_keeps_the_piece_being_written_kernel() {
    full_disk_keeps_the_piece_at_its_last_whole_record("kernel");
}

#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn a_full_disk_keeps_the_piece_being_written_mmap() {
    full_disk_keeps_the_piece_at_its_last_whole_record("mmap");
}

#[test]
fn names_taken_mid_stream_give_the_piece_another_and_lose_nothing() {
    let t = TempDir::new("taken");
    let d = t.join("out");
    std::fs::create_dir(&d).unwrap();
    let recs: Vec<Vec<u8>> = (0..100).map(|i| record(i, 500)).collect();
    // 19 records of 516 bytes fill a 10 KiB piece with the header.
    let mut child = split_stdin(&[
        "-o",
        &d.to_string_lossy(),
        "--size",
        "10K",
        "--prefix",
        "lan",
    ]);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcap_header()).unwrap();
    for r in &recs[..10] {
        stdin.write_all(r).unwrap();
    }
    wait_for(&d, ".lan.000000.pcap.mmkit-");
    // Piece 1's name is taken before it opens.
    std::fs::write(d.join("lan.000001.pcap"), b"theirs 1").unwrap();
    for r in &recs[10..40] {
        stdin.write_all(r).unwrap();
    }
    wait_for(&d, ".lan.000002.pcap.mmkit-");
    // Piece 2's name while it is written; the temporary names piece 3
    // would take first.
    std::fs::write(d.join("lan.000002.pcap"), b"theirs 2").unwrap();
    for n in 0..12 {
        std::fs::write(
            d.join(format!(".lan.000003.pcap.mmkit-{pid}-{n}.tmp")),
            b"theirs 3",
        )
        .unwrap();
    }
    for r in &recs[40..] {
        stdin.write_all(r).unwrap();
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    for (planned, got) in [
        ("lan.000001.pcap", "lan.000001.1.pcap"),
        ("lan.000002.pcap", "lan.000002.1.pcap"),
    ] {
        assert!(
            err.lines().any(|l| l.contains(planned) && l.contains(got)),
            "a warning names {planned} and {got}: {err}"
        );
    }
    assert_eq!(
        std::fs::read(d.join("lan.000001.pcap")).unwrap(),
        b"theirs 1"
    );
    assert_eq!(
        std::fs::read(d.join("lan.000002.pcap")).unwrap(),
        b"theirs 2"
    );
    assert_eq!(
        std::fs::read(d.join(format!(".lan.000003.pcap.mmkit-{pid}-3.tmp"))).unwrap(),
        b"theirs 3"
    );
    let (pieces, complete) = manifest(&d, "lan");
    assert!(complete);
    let names: Vec<&str> = pieces.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "lan.000000.pcap",
            "lan.000001.1.pcap",
            "lan.000002.1.pcap",
            "lan.000003.pcap",
            "lan.000004.pcap",
            "lan.000005.pcap"
        ]
    );
    assert_eq!(records_of(&d, &pieces), recs.concat());
}

#[test]
fn a_stream_bad_from_its_first_record_leaves_no_piece() {
    let t = TempDir::new("bad-first");
    let d = t.join("out");
    let mut child = split_stdin(&["-o", &d.to_string_lossy()]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcap_header()).unwrap();
    stdin.write_all(&[0xff; 64]).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("byte 24"), "{err}");
    let names = common::names(&d);
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_stream_record_larger_than_size_is_refused_once_after_the_earlier_pieces() {
    let t = TempDir::new("too-big");
    let d = t.join("out");
    let mut stream = pcap_header();
    let small: Vec<Vec<u8>> = (0..20).map(|i| record(i, 84)).collect();
    for r in &small {
        stream.extend_from_slice(r);
    }
    stream.extend_from_slice(&record(20, 1500));
    stream.extend_from_slice(&record(21, 1500));
    let mut child = split_stdin(&["-o", &d.to_string_lossy(), "--size", "1000"]);
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        let _ = stdin.write_all(&stream);
    });
    let o = child.wait_with_output().unwrap();
    feed.join().unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("--size 1000 B cannot hold the 24-byte header and a 1516-byte record; the smallest workable is --size 1540"),
        "{err}"
    );
    assert_eq!(err.matches("--size").count(), 2, "said once: {err}");
    let (pieces, complete) = manifest(&d, "stdin");
    assert!(!complete);
    assert_eq!(records_of(&d, &pieces), small.concat());
}

#[test]
fn a_file_split_says_once_how_many_records_exceed_size() {
    let t = TempDir::new("too-small");
    let f = t.s("cap.pcap");
    let mut file = pcap_header();
    for i in 0..300 {
        file.extend_from_slice(&record(i, 1498));
    }
    std::fs::write(&f, &file).unwrap();
    let o = mmkit()
        .args(["split", &f, "-o", &t.s("out"), "--size", "100", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 0, "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("--size")).count(),
        1,
        "one line: {err}"
    );
    assert!(
        err.contains("300 record(s) larger than --size 100 B with the 24-byte header")
            && err.contains("--size 1538 holds every record"),
        "{err}"
    );
}
