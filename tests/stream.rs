//! Live data (issue 12): `split -`, FIFOs and `--follow`, with size,
//! record and time rotation, `--ring`, `--exec`, and signals that keep the
//! records received so far. Real peers: tcpdump writes the stream,
//! capinfos reads the pieces.

mod common;
use common::run_ok as ok;
use common::{TempDir, mmkit, names, run, stderr, stdout};
use common::{join_bytes, pieces_ext, seed_bounds};
use std::io::Write;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

/// `mmkit split - ARGS` reading its standard input from a pipe we write.
fn split_stdin(args: &[&str]) -> Child {
    common::spawn_piped(&[&["split", "-"], args].concat())
}

fn capinfos_packets(p: &str) -> u64 {
    let o = std::process::Command::new("capinfos")
        .args(["-c", "-M", p])
        .output()
        .expect("capinfos (apt-get install tshark)");
    assert!(
        o.status.success(),
        "capinfos {p}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Number of packets:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn tcpdump_stream_splits_into_pieces_capinfos_reads_and_join_restores() {
    let t = TempDir::new("tcpdump");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "3M"]);
    let mut tcpdump = std::process::Command::new("tcpdump")
        .args(["-r", &f, "-w", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tcpdump (apt-get install tcpdump)");
    let d = t.s("out");
    let o = mmkit()
        .args(["split", "-", "-o", &d, "--size", "500KB", "--prefix", "lan"])
        .stdin(tcpdump.stdout.take().expect("tcpdump stdout"))
        .output()
        .unwrap();
    assert!(tcpdump.wait().unwrap().success());
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".pcap");
    assert!(ps.len() >= 6, "{ps:?}");
    assert!(ps[0].ends_with("lan.000000.pcap"), "{ps:?}");
    let mut packets = 0;
    for p in &ps {
        assert!(std::fs::metadata(p).unwrap().len() <= 500_000, "{p}");
        packets += capinfos_packets(p);
    }
    assert_eq!(packets, capinfos_packets(&f));
    // tcpdump rewrites the file header; the records are the original's.
    let joined = join_bytes(&t, &ps);
    let orig = std::fs::read(&f).unwrap();
    assert_eq!(joined[24..], orig[24..]);
}

#[test]
fn a_slow_writer_of_seed_records_and_write_mmap() {
    let t = TempDir::new("slow");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "1M"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let mut child = split_stdin(&[
        "-o", &d, "--size", "100K", "--write", "mmap", "--prefix", "rec",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    // Odd-sized bursts that cut records and headers anywhere.
    for c in data.chunks(77_777) {
        stdin.write_all(c).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".dat");
    for p in &ps {
        assert!(std::fs::metadata(p).unwrap().len() <= 100 << 10, "{p}");
    }
    assert_eq!(join_bytes(&t, &ps), data);
}

#[test]
fn a_cut_or_damaged_stream_keeps_every_record_before_it() {
    let t = TempDir::new("damage");
    let f = t.s("rec.dat");
    // Records from a few bytes to larger than the read buffer (256 KiB).
    ok(&[
        "gen",
        &f,
        "--size",
        "4M",
        "--seed",
        "3",
        "--min-payload",
        "16",
        "--max-payload",
        "600000",
    ]);
    let data = std::fs::read(&f).unwrap();
    let b = seed_bounds(&data);
    assert_eq!(b.last(), Some(&data.len()));
    assert!(b.windows(2).any(|w| w[1] - w[0] > 300_000), "no big record");
    let mid = b[b.len() / 2];
    let mut bad = data.clone();
    bad[mid] ^= 0xff; // the magic of the record at `mid`
    let cases = [
        ("header", data[..mid + 5].to_vec(), "inside a record"),
        ("body", data[..mid + 20].to_vec(), "inside a record"),
        ("magic", bad, "magic"),
    ];
    for (name, stream, needle) in cases {
        let d = t.s(name);
        let mut child = split_stdin(&["-o", &d, "--size", "1M", "--prefix", "rec"]);
        let mut stdin = child.stdin.take().unwrap();
        for c in stream.chunks(100_003) {
            // At a bad record mmkit stops reading: a broken pipe here.
            if stdin.write_all(c).is_err() {
                break;
            }
        }
        drop(stdin);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{name}: {}", stderr(&o));
        let ps = pieces_ext(Path::new(&d), ".dat");
        for p in &ps {
            assert!(std::fs::metadata(p).unwrap().len() <= 1 << 20, "{p}");
        }
        assert!(
            !names(Path::new(&d)).iter().any(|n| n.ends_with(".tmp")),
            "{name}: a temporary is left"
        );
        assert!(
            join_bytes(&t, &ps) == data[..mid],
            "{name}: not the records before the damage"
        );
    }
}

/// The recorder case, through mapped windows (the default) and through
/// pread (`--access read`): the same pieces, joined back to the file.
#[test]
fn follow_a_growing_file_until_it_idles() {
    let t = TempDir::new("follow");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "3M"]);
    let data = std::fs::read(&f).unwrap();
    let mut sets = Vec::new();
    for (access, said) in [("mmap", "mapped windows"), ("read", "pread(2)")] {
        let grow = t.s(&format!("grow-{access}.dat"));
        std::fs::write(&grow, &data[..1000]).unwrap();
        let d = t.s(&format!("out-{access}"));
        let child = mmkit()
            .args([
                "-v", "split", &grow, "--follow", "--idle", "1", "-o", &d, "--size", "200K",
                "--access", access,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A recorder appending in bursts (some of them larger than a window).
        common::append_in_bursts(&grow, &data[1000..200_000], 100_003, 100);
        common::append_in_bursts(&grow, &data[200_000..], 1_500_007, 100);
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{access}: {}", stderr(&o));
        assert!(stderr(&o).contains(said), "{access}: {}", stderr(&o));
        let ps = pieces_ext(Path::new(&d), ".dat");
        assert!(join_bytes(&t, &ps) == data, "{access}: not the file");
        sets.push(
            ps.iter()
                .map(|p| std::fs::read(p).unwrap())
                .collect::<Vec<_>>(),
        );
    }
    assert!(sets[0] == sets[1], "mapped and pread pieces differ");
}

/// A writer that truncates the file it is recording: exit 6, and the
/// records taken before are kept, whole, in finished pieces.
#[test]
fn a_followed_file_that_shrinks_is_an_error() {
    let t = TempDir::new("shrink");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "200K"]);
    let data = std::fs::read(&f).unwrap();
    for access in ["mmap", "read"] {
        let g = t.s(&format!("rec-{access}.dat"));
        std::fs::write(&g, &data).unwrap();
        let d = t.s(&format!("out-{access}"));
        let child = mmkit()
            .args([
                "split", &g, "--follow", "--idle", "3", "-o", &d, "--size", "64K", "--access",
                access,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&g)
            .unwrap()
            .set_len(1000)
            .unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(6), "{access}: {}", stderr(&o));
        assert!(stderr(&o).contains("shrank"), "{access}: {}", stderr(&o));
        common::assert_no_temporaries(Path::new(&d), access);
        let ps = pieces_ext(Path::new(&d), ".dat");
        assert!(ps.len() > 1, "{access}: {ps:?}");
        assert!(
            join_bytes(&t, &ps) == data,
            "{access}: the records taken are not all kept"
        );
    }
}

#[test]
fn signals_keep_the_records_received_so_far() {
    let t = TempDir::new("sigs");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "600K"]);
    let data = std::fs::read(&f).unwrap();
    for (name, sig) in [
        ("hup", libc::SIGHUP),
        ("int", libc::SIGINT),
        ("term", libc::SIGTERM),
    ] {
        let d = t.s(name);
        let mut child = split_stdin(&["-o", &d, "--size", "100K"]);
        let mut stdin = child.stdin.take().unwrap();
        // Send part of the stream, cut inside a record, and keep it open.
        let cut = 333_333;
        stdin.write_all(&data[..cut]).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        common::signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        drop(stdin);
        assert_eq!(o.status.code(), Some(128 + sig), "{name}: {}", stderr(&o));
        let dir = Path::new(&d);
        common::assert_no_temporaries(dir, name);
        let joined = join_bytes(&t, &pieces_ext(dir, ".dat"));
        // A prefix of the stream that ends at a whole record.
        assert!(
            joined.len() <= cut && joined.len() > cut - 5000,
            "{name}: {}",
            joined.len()
        );
        assert_eq!(joined[..], data[..joined.len()], "{name}");
        let c = run(&["check", &t.s("joined")]);
        assert!(c.status.success(), "{name}: {}", stdout(&c));
    }
}

#[test]
fn ring_keeps_the_newest_pieces_and_exec_runs_on_each_in_order() {
    let t = TempDir::new("ring");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "1M"]);
    let d = t.s("out");
    let log = t.s("exec.log");
    let cmd = format!("sh -c 'echo $1 >> {log}' x");
    let mut child = split_stdin(&["-o", &d, "--records", "5", "--ring", "3", "--exec", &cmd]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&f).unwrap()).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let recs: u64 = ok(&["check", &f])
        .lines()
        .find_map(|l| l.trim().strip_prefix("records:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    let total = recs.div_ceil(5) as usize;
    assert!(total > 50, "{total} rotations");
    let kept = pieces_ext(Path::new(&d), ".dat");
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(
        kept[2].ends_with(&format!("stdin.{:06}.dat", total - 1)),
        "{kept:?}"
    );
    let ran: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(ran.len(), total, "once per piece");
    let want: Vec<String> = (0..total)
        .map(|i| {
            Path::new(&d)
                .join(format!("stdin.{i:06}.dat"))
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(ran, want, "in order");
    // The kept pieces join (the manifest knows the older ones are gone).
    join_bytes(&t, &kept);
}

#[test]
fn a_failing_exec_loses_nothing() {
    let t = TempDir::new("execfail");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "300K"]);
    let d = t.s("out");
    let mut child = split_stdin(&["-o", &d, "--size", "100K", "--exec", "false"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&std::fs::read(&f).unwrap()).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--exec on"), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".dat");
    assert_eq!(join_bytes(&t, &ps), std::fs::read(&f).unwrap());
}

#[test]
fn seconds_close_pieces_of_a_slow_producer() {
    let t = TempDir::new("seconds");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "60K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let mut child = split_stdin(&["-o", &d, "--seconds", "1"]);
    let mut stdin = child.stdin.take().unwrap();
    // Three bursts 1.5 s apart: the idle time closes each piece.
    for c in data.chunks(data.len() / 3 + 1) {
        stdin.write_all(c).unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ps = pieces_ext(Path::new(&d), ".dat");
    assert!(ps.len() >= 3, "{ps:?}");
    assert_eq!(join_bytes(&t, &ps), data);
}

#[test]
fn a_fifo_streams_too() {
    let t = TempDir::new("fifo");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "1M"]);
    let fifo = t.s("cap.pcap.fifo");
    let c = std::ffi::CString::new(fifo.clone()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let d = t.s("out");
    let child = mmkit()
        .args(["split", &fifo, "-o", &d, "--size", "300K"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(&fifo, std::fs::read(&f).unwrap()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        join_bytes(&t, &pieces_ext(Path::new(&d), ".pcap")),
        std::fs::read(&f).unwrap()
    );
}

#[test]
fn memory_stays_flat_on_a_long_stream() {
    if !Path::new("/usr/bin/time").exists() {
        panic!("/usr/bin/time is needed (apt-get install time)");
    }
    let t = TempDir::new("rss");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "64M", "--sparse"]);
    let d = t.s("out");
    let exe = env!("CARGO_BIN_EXE_mmkit");
    let runner = std::env::var("MMKIT_TEST_RUNNER").unwrap_or_default();
    let script = format!(
        "cat {f} | /usr/bin/time -f 'maxrss %M' {runner} {exe} split - -o {d} --size 10M --no-sync --ring 2"
    );
    let o = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let kib: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("maxrss "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if runner.is_empty() {
        assert!(kib <= 8 * 1024, "peak RSS {kib} KiB");
    }
}

#[test]
fn follow_ends_when_the_writer_closes_the_file() {
    let t = TempDir::new("follow-close");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "500K"]);
    let data = std::fs::read(&f).unwrap();
    let grow = t.s("grow.dat");
    std::fs::write(&grow, &data[..500]).unwrap();
    let d = t.s("out");
    let child = mmkit()
        .args(["split", &grow, "--follow", "-o", &d, "--size", "100K"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A recorder: one open file, written in bursts, then closed.
    common::append_in_bursts(&grow, &data[500..], 70_001, 50);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(join_bytes(&t, &pieces_ext(Path::new(&d), ".dat")), data);
}

#[test]
fn sigkill_mid_stream_then_recover_the_temporary() {
    let t = TempDir::new("kill9");
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "400K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let mut child = split_stdin(&["-o", &d, "--size", "1M", "--no-sync"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..250_000]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    let _ = child.wait();
    drop(stdin);
    let tmp = names(Path::new(&d))
        .into_iter()
        .find(|n| n.ends_with(".tmp"))
        .expect("the killed split's temporary");
    let tmp = Path::new(&d).join(tmp);
    let out = t.s("recovered.dat");
    let o = run(&["recover", &tmp.to_string_lossy(), "-o", &out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read(&out).unwrap();
    assert!(!got.is_empty() && got.len() <= 250_000, "{}", got.len());
    assert_eq!(got[..], data[..got.len()], "a prefix of the stream");
    let c = run(&["check", &out]);
    assert!(c.status.success(), "{}", stdout(&c));
}
