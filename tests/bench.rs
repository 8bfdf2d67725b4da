//! `mmkit bench` smoke tests with tiny sizes: it runs, prints the three
//! tables, writes a CSV with every row, leaves no scratch file behind, and
//! refuses bad command lines.

mod common;

use common::{TempDir, run, stderr, stdout};

fn entries(d: &TempDir) -> Vec<String> {
    common::names(d.path())
}

#[test]
fn tiny_bench_prints_tables_writes_csv_and_cleans_up() {
    let d = TempDir::new("bench");
    let csv = d.s("r.csv");
    let dir = d.s("");
    let o = run(&[
        "bench",
        "--dir",
        &dir,
        "--min",
        "4K",
        "--max",
        "64K",
        "--scan-size",
        "64K",
        "--ints",
        "1000",
        "--runs",
        "2",
        "--csv",
        &csv,
    ]);
    let out = stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{out}\nstderr:\n{}",
        stderr(&o)
    );
    for want in [
        "1. The notes' experiment: 1000 integers",
        "read/mmap =",
        "2. Size sweep",
        "64.0 KiB",
        "3. Sequential scan of 64.0 KiB",
        "mmap+SEQUENTIAL",
        "mmap+WILLNEED",
        "4. Record walk over 64.0 KiB",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    // Only the CSV is left: the scratch file was removed.
    assert_eq!(entries(&d), vec!["r.csv".to_string()]);

    let text = std::fs::read_to_string(d.join("r.csv")).expect("csv");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("part,size_bytes,method,"),
        "{}",
        lines[0]
    );
    let count = |part: &str| lines.iter().filter(|l| l.starts_with(part)).count();
    assert_eq!(count("notes,4000,"), 2, "{text}");
    // 4K, 16K, 64K: read and mmap each.
    assert_eq!(count("sweep,"), 6, "{text}");
    // read + 5 mapped variants, for the scan and for the walk.
    assert_eq!(count("scan,65536,"), 6, "{text}");
    assert_eq!(count("walk,65536,"), 6, "{text}");
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 13, "{l}");
        assert_eq!(f[3], "2", "runs column: {l}");
        let median: f64 = f[6].parse().expect("median");
        assert!(median > 0.0 && median < 10.0, "{l}");
    }
}

#[test]
fn only_selects_parts() {
    let d = TempDir::new("bench-only");
    let dir = d.s("");
    let o = run(&[
        "bench",
        "--dir",
        &dir,
        "--only",
        "scan",
        "--scan-size",
        "16K",
        "--runs",
        "1",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("3. Sequential scan"), "{out}");
    assert!(!out.contains("1. The notes'"), "{out}");
    assert!(!out.contains("2. Size sweep"), "{out}");
    assert!(!out.contains("4. Record walk"), "{out}");
    assert!(entries(&d).is_empty(), "{:?}", entries(&d));
}

#[test]
fn bad_command_lines_are_usage_errors() {
    let d = TempDir::new("bench-usage");
    let dir = d.s("");
    for args in [
        vec!["bench", "--dir", &dir, "--runs", "0"],
        vec!["bench", "--dir", &dir, "--only", "bogus"],
        vec!["bench", "--dir", &dir, "--min", "1M", "--max", "4K"],
        vec!["bench", "--dir", "/nonexistent/mmkit-bench"],
        vec!["bench", "--dir", &dir, "--max", "12Q"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(entries(&d).is_empty());
}

#[test]
fn an_unwritable_csv_fails_before_measuring() {
    let d = TempDir::new("bench-csv");
    let dir = d.s("");
    let o = run(&[
        "bench",
        "--dir",
        &dir,
        "--quick",
        "--csv",
        "/nonexistent/dir/r.csv",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("CSV"), "{}", stderr(&o));
    assert!(!stdout(&o).contains("Size sweep"), "{}", stdout(&o));
    assert!(entries(&d).is_empty(), "{:?}", entries(&d));
}

#[test]
fn a_failure_mid_run_removes_the_scratch_file() {
    use std::os::unix::process::CommandExt;
    let d = TempDir::new("bench-fsize");
    let dir = d.s("");
    // A 64 KiB file size limit: the 400 KB scratch file cannot be filled.
    let mut c = common::mmkit();
    c.args([
        "bench", "--dir", &dir, "--only", "notes", "--ints", "100000", "--runs", "1",
    ]);
    // SAFETY: only setrlimit (async-signal-safe) runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let rl = libc::rlimit {
                rlim_cur: 64 << 10,
                rlim_max: 64 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = c.output().expect("spawn mmkit");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("scratch"), "{}", stderr(&o));
    assert!(entries(&d).is_empty(), "{:?}", entries(&d));
}
