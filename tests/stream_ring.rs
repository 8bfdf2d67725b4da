//! The ring of a stream split (`--ring N`, `--ring-bytes`, `--keep-free`)
//! with post-rotate commands that compress, rename or remove the piece,
//! restarts on the same directory, `--print-names`, and what the `--exec`
//! command inherits. Real peers: gzip, sh, mv, rm.

mod common;
use common::run_ok as ok;
use common::{TempDir, names, stderr};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Output;

/// `mmkit split - ARGS` fed `data` on its standard input.
fn split_fed(data: &[u8], args: &[&str]) -> Output {
    let mut child = common::spawn_piped(&[&["split", "-"], args].concat());
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    o
}

/// A pcap of `n` records of 200 bytes, compressible (gzip -9 makes a
/// piece of it a few percent of its size).
fn compressible_pcap(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&[2, 0, 4, 0]);
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..n {
        v.extend_from_slice(&i.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&200u32.to_le_bytes());
        v.extend_from_slice(&200u32.to_le_bytes());
        v.extend_from_slice(&[(i % 7) as u8; 200]);
    }
    v
}

/// Distinct piece numbers of `prefix` in `dir` (any suffix).
fn numbers(dir: &Path, prefix: &str) -> Vec<u64> {
    let mut v: Vec<u64> = names(dir)
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix(prefix)?.strip_prefix('.')?;
            rest.get(..6)?.parse().ok()
        })
        .collect();
    v.dedup();
    v
}

/// The records of pcap files (their bytes after the 24-byte header), joined.
fn records_of(files: &[Vec<u8>]) -> Vec<u8> {
    files.iter().flat_map(|f| f[24..].to_vec()).collect()
}

fn gunzip(p: &Path) -> Vec<u8> {
    let o = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(p)
        .output()
        .expect("gzip");
    assert!(o.status.success(), "gzip -dc {}", p.display());
    o.stdout
}

/// The largest count of pieces the exec's looks saw (one line each).
fn max_look(log: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse::<usize>().unwrap())
        .max()
        .unwrap()
}

/// The exec's look at the disk: the distinct piece numbers in `d`,
/// finished or still being written (hidden temporary), into `log`.
fn look(d: &str, log: &str) -> String {
    format!("ls -A {d} | grep -o 'lan\\.[0-9][0-9]*' | sort -u | wc -l >> {log}")
}

/// Run the ring of 2 with `exec` (which ends with a look at the disk), 20K
/// pieces of a 2M pcap: every record reaches a piece, the ring holds 2
/// finished pieces at the end and at most 3 pieces at any look.
fn ring_survives(exec: &str, t: &TempDir, data: &[u8]) -> Output {
    let d = t.s("out");
    std::fs::create_dir_all(&d).unwrap();
    let o = split_fed(
        data,
        &[
            "-o", &d, "--size", "20K", "--ring", "2", "--exec", exec, "--prefix", "lan",
        ],
    );
    assert!(o.status.success(), "{exec}: {}", stderr(&o));
    let got = numbers(Path::new(&d), "lan");
    assert!(got.len() <= 2, "{exec}: {got:?}");
    let looks = max_look(&t.s("looks"));
    assert!(looks <= 3, "{exec}: a look saw {looks} pieces");
    o
}

#[test]
fn a_ring_survives_an_exec_that_compresses_renames_or_removes_the_piece() {
    let t = TempDir::new("ring-exec");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "2M"]);
    let data = std::fs::read(&f).unwrap();
    let (d, arch, looks) = (t.s("out"), t.s("arch"), t.s("looks"));
    // Each command also links what it left into arch/ (which the ring does
    // not bound) so that every record can be checked.
    let cases = [
        (
            "gzip",
            format!(
                "sh -c 'gzip -9 \"$0\" && ln \"$0.gz\" {arch}/; {}'",
                look(&d, &looks)
            ),
        ),
        (
            "mv",
            format!(
                "sh -c 'mv \"$0\" \"$0.done\" && ln \"$0.done\" {arch}/; {}'",
                look(&d, &looks)
            ),
        ),
        ("rm", format!("sh -c 'rm \"$0\"; {}'", look(&d, &looks))),
    ];
    for (name, exec) in &cases {
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::remove_dir_all(&arch);
        std::fs::create_dir_all(&arch).unwrap();
        let _ = std::fs::remove_file(&looks);
        ring_survives(exec, &t, &data);
        let mut files = names(Path::new(&arch));
        files.sort();
        if *name == "rm" {
            assert!(names(Path::new(&d)).iter().all(|n| !n.starts_with("lan.0")));
            let runs = std::fs::read_to_string(&looks).unwrap().lines().count();
            assert!(
                runs >= 40,
                "rm ran {runs} times: at least 20 wraps of the ring"
            );
            continue;
        }
        assert!(
            files.len() >= 40,
            "{name}: {} pieces: at least 20 wraps",
            files.len()
        );
        let pieces: Vec<Vec<u8>> = files
            .iter()
            .map(|n| {
                let p = Path::new(&arch).join(n);
                if *name == "gzip" {
                    gunzip(&p)
                } else {
                    std::fs::read(&p).unwrap()
                }
            })
            .collect();
        assert_eq!(
            records_of(&pieces),
            data[24..],
            "{name}: every record, in order"
        );
    }
}

#[test]
fn a_lagging_exec_is_waited_for_and_the_disk_holds_ring_plus_one() {
    let t = TempDir::new("ring-lag");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "1M"]);
    let data = std::fs::read(&f).unwrap();
    let (d, looks) = (t.s("out"), t.s("looks"));
    // The command is slower than the stream: each one waits until the
    // stream has been ahead of it by a piece (a look at the disk).
    let exec = format!("sh -c 'gzip -1 \"$0\"; {}'", look(&d, &looks));
    let o = ring_survives(&exec, &t, &data);
    let kept: Vec<Vec<u8>> = names(Path::new(&d))
        .iter()
        .filter(|n| n.ends_with(".gz"))
        .map(|n| gunzip(&Path::new(&d).join(n)))
        .collect();
    let tail = records_of(&kept);
    assert!(!tail.is_empty());
    assert_eq!(
        tail[..],
        data[data.len() - tail.len()..],
        "the newest records"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("kept the newest 2"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn a_restarted_ring_continues_the_numbering_and_the_manifest() {
    let t = TempDir::new("ring-restart");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "300K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let args = [
        "-o", &d, "--size", "20K", "--ring", "4", "--exec", "gzip -9", "--prefix", "lan",
    ];
    let o = split_fed(&data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = numbers(Path::new(&d), "lan");
    assert_eq!(first.len(), 4, "{first:?}");
    let last = *first.last().unwrap();
    let manifest = std::fs::read_to_string(t.join("out/lan.manifest")).unwrap();
    // The same command again (after a reboot): no refusal, numbers go on.
    let o = split_fed(&data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let second = numbers(Path::new(&d), "lan");
    assert_eq!(second.len(), 4, "old pieces count in the ring: {second:?}");
    assert_eq!(*second.last().unwrap(), 2 * last + 1, "{second:?}");
    let text = std::fs::read_to_string(t.join("out/lan.manifest")).unwrap();
    assert!(text.starts_with(&manifest), "the earlier run's lines stay");
    assert!(text[manifest.len()..].starts_with("input "), "{text}");
    assert!(
        text.contains(&format!("dropped lan.{last:06}.pcap\n")),
        "{text}"
    );
    assert!(text.ends_with("state complete\n"), "{text}");
    // With -f too.
    let mut fargs = args.to_vec();
    fargs.push("-f");
    let o = split_fed(&data, &fargs);
    assert!(o.status.success(), "{}", stderr(&o));
    let third = numbers(Path::new(&d), "lan");
    assert_eq!(third.len(), 4, "{third:?}");
    assert_eq!(*third.last().unwrap(), 3 * last + 2, "{third:?}");
}

#[test]
fn ring_bytes_counts_what_the_exec_left() {
    let t = TempDir::new("ring-bytes");
    let data = compressible_pcap(20_000);
    let d = t.s("out");
    let o = split_fed(
        &data,
        &[
            "-o",
            &d,
            "--size",
            "40K",
            "--ring-bytes",
            "60K",
            "--exec",
            "gzip -9",
            "--prefix",
            "lan",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let total: u64 = names(Path::new(&d))
        .iter()
        .filter(|n| n.starts_with("lan.0"))
        .map(|n| std::fs::metadata(Path::new(&d).join(n)).unwrap().len())
        .sum();
    assert!(total <= 60 << 10, "{total} bytes on disk");
    // 40K pieces compress to far less: more than 60K / 40K of them fit.
    let kept = numbers(Path::new(&d), "lan");
    assert!(kept.len() > 2, "{kept:?}");
    let pieces: Vec<Vec<u8>> = names(Path::new(&d))
        .iter()
        .filter(|n| n.ends_with(".gz"))
        .map(|n| gunzip(&Path::new(&d).join(n)))
        .collect();
    let tail = records_of(&pieces);
    assert_eq!(tail[..], data[data.len() - tail.len()..]);
}

#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn keep_free_trims_the_ring_before_the_disk_fills() {
    let fs = common::Tmpfs::mount("ring-free", "1m");
    let t = TempDir::new("ring-free-in");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "4M"]);
    let data = std::fs::read(&f).unwrap();
    let d = fs.0.s("out");
    let o = split_fed(
        &data,
        &[
            "-o",
            &d,
            "--size",
            "100K",
            "--keep-free",
            "400K",
            "--prefix",
            "lan",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = numbers(Path::new(&d), "lan");
    assert!(kept.len() >= 2 && kept.len() <= 7, "{kept:?}");
    assert!(*kept.last().unwrap() > 30, "{kept:?}");
}

#[test]
fn print_names_prints_each_finished_piece_as_it_is_in_place() {
    let t = TempDir::new("ring-names");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "300K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let mut child = common::spawn_piped(&[
        "split",
        "-",
        "-o",
        &d,
        "--size",
        "50K",
        "--prefix",
        "lan",
        "--print-names",
        "--exec",
        "gzip",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // More than one piece's worth, the stream kept open: the first name
    // arrives while mmkit still waits for input (flushed).
    stdin.write_all(&data[..120 << 10]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while stdout.read(&mut b).unwrap_or(0) == 1 {
            line.push(b[0]);
            if b[0] == b'\n' {
                let _ = tx.send(String::from_utf8(std::mem::take(&mut line)).unwrap());
            }
        }
    });
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a name before the stream ends");
    assert_eq!(first, format!("{d}/lan.000000.pcap\n"));
    stdin.write_all(&data[120 << 10..]).unwrap();
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    reader.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut printed = vec![first];
    printed.extend(rx.try_iter());
    let want: Vec<String> = names(Path::new(&d))
        .iter()
        .filter_map(|n| n.strip_suffix(".gz"))
        .map(|n| format!("{d}/{n}\n"))
        .collect();
    assert!(want.len() >= 6, "{want:?}");
    assert_eq!(
        printed, want,
        "the names mmkit gave, one a line, nothing else"
    );
    assert!(stderr(&o).contains("wrote"), "the report goes to stderr");
}

#[test]
fn the_exec_command_starts_with_default_signal_dispositions() {
    let t = TempDir::new("ring-sig");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "100K"]);
    let data = std::fs::read(&f).unwrap();
    let d = t.s("out");
    let o = split_fed(
        &data,
        &[
            "-o",
            &d,
            "--prefix",
            "lan",
            "--exec",
            "sh -c 'cat /proc/self/status > \"$0.status\"'",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let status = std::fs::read_to_string(t.join("out/lan.000000.pcap.status")).unwrap();
    // Signals 1-31 and the real-time ones a program may use: glibc keeps its
    // two internal ones (32 and 33, which no program sees: SIGRTMIN is 34
    // there) ignored in a child started by posix_spawn; musl does not.
    for key in ["SigIgn:", "SigBlk:"] {
        let v = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .trim();
        let mut mask = u64::from_str_radix(v, 16).unwrap() & !(3 << 31);
        if common::emulated() {
            // QEMU user mode keeps its own (host) real-time signals as they
            // are in what it executes: only 1-31 are mmkit's to reset there.
            mask &= 0x7fff_ffff;
        }
        assert_eq!(mask, 0, "{key} {v}");
    }
}

#[test]
fn name_time_and_align_name_pieces_by_the_clock() {
    let t = TempDir::new("ring-time");
    let d = t.s("out");
    std::fs::create_dir(&d).unwrap();
    let mut child = common::spawn_piped(&[
        "split",
        "-",
        "-o",
        &d,
        "--seconds",
        "2",
        "--align",
        "--name-time",
        "%Y%m%d-%H%M%S",
        "--prefix",
        "lan",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let one = compressible_pcap(1);
    stdin.write_all(&one).unwrap();
    // A steady producer (a record every 2 ms) until three pieces are in
    // place (the first and two that began on a boundary).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while numbers(Path::new(&d), "lan").len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            names(Path::new(&d))
        );
        stdin.write_all(&one[24..]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pieces: Vec<String> = names(Path::new(&d))
        .into_iter()
        .filter(|n| n.ends_with(".pcap"))
        .collect();
    assert!(pieces.len() >= 3, "{pieces:?}");
    let ended = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (i, p) in pieces.iter().enumerate() {
        // lan.NNNNNN.YYYYmmdd-HHMMSS.pcap
        assert_eq!(p.len(), "lan.000000.20261207-231500.pcap".len(), "{p}");
        assert!(p.starts_with(&format!("lan.{i:06}.")), "{p}");
        let time = &p[11..26];
        let out = std::process::Command::new("date")
            .args([
                "-u",
                "-d",
                &format!("@{}", started - started % 2),
                "+%Y%m%d-%H%M%S",
            ])
            .output()
            .unwrap();
        let first = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{ended}"), "+%Y%m%d-%H%M%S"])
            .output()
            .unwrap();
        let last = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            first.as_str() <= time && time <= last.as_str(),
            "{p}: {first}..{last}"
        );
        // Named by the start of its interval: a multiple of 2 s of the
        // clock, however late its first record came.
        let s: u32 = time[13..].parse().unwrap();
        assert_eq!(s % 2, 0, "{p}");
    }
}

/// ci/soak.sh on the binary under test with `env`: its stdout, printed,
/// and the output.
fn soak(env: &[(&str, &str)]) -> (String, std::process::Output) {
    let o = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/ci/soak.sh"))
        .arg(env!("CARGO_BIN_EXE_mmkit"))
        .envs(env.iter().copied())
        .output()
        .expect("bash");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    println!("{out}");
    (out, o)
}

/// ci/soak.sh on the binary under test: pcap and pcapng streams from a
/// steady producer through rings with gzip, mv and rm as the command,
/// then SIGHUP (the full-disk step is [`soak_full_disk_exits_5`]).
#[test]
#[ignore = "a soak: minutes"]
fn soak_ring_with_a_steady_producer() {
    if common::emulated() {
        println!("skipped under emulation: ci/qemu-user-matrix.sh soak runs the quick soak");
        return;
    }
    let (out, o) = soak(&[("SOAK_FULL_DISK", "0")]);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.matches("PASS").count() >= 7, "{out}");
}

/// ci/soak.sh quick with its full-disk step: a ring on a full tmpfs exits
/// 5 and leaves clean pieces.
#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn soak_full_disk_exits_5() {
    if common::emulated() {
        println!("skipped under emulation: ci/qemu-user-matrix.sh soak runs the quick soak");
        return;
    }
    let (out, o) = soak(&[("SOAK_QUICK", "1"), ("SOAK_FULL_DISK", "1")]);
    assert!(out.contains("PASS soak full disk"), "{out}{}", stderr(&o));
    assert!(o.status.success(), "{out}{}", stderr(&o));
}
