//! `mmkit copy`: every method, the pread/pwrite fallback, and inputs that
//! are not regular files (devices, /proc files, pipes, FIFOs).

mod common;
use common::*;

/// Deterministic test bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn copy_file_range_fallback_hook_copies_identically() {
    let d = TempDir::new("copy-fallback");
    let data = pattern(3 << 20 | 12345);
    std::fs::write(d.join("in"), &data).unwrap();
    let o = mmkit()
        .env("MMKIT_NO_COPY_RANGE", "1")
        .env("RUST_LOG", "debug")
        .args(["copy", &d.s("in"), &d.s("out")])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("falling back"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("out")).unwrap(), data);
    for m in ["read", "mmap", "kernel"] {
        let out = d.s(&format!("out-{m}"));
        let o = run(&["copy", "--method", m, &d.s("in"), &out]);
        assert!(o.status.success(), "{m}: {}", stderr(&o));
        assert_eq!(std::fs::read(&out).unwrap(), data, "{m}");
    }
}

fn code_of(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn proc_files_are_read_to_their_end() {
    // /proc files say size 0: the copy was once empty, with exit 0.
    let d = TempDir::new("copy-proc");
    let o = run(&["copy", "/proc/version", &d.s("version")]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    let want = std::fs::read("/proc/version").unwrap();
    assert!(!want.is_empty());
    assert_eq!(std::fs::read(d.join("version")).unwrap(), want);
    let o = run(&["copy", "/proc/cpuinfo", &d.s("cpuinfo")]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    let got = std::fs::read(d.join("cpuinfo")).unwrap();
    let cat = std::fs::read("/proc/cpuinfo").unwrap();
    assert!(!got.is_empty());
    // (MHz lines may change between the two reads; the length hardly.)
    assert!(
        got.len().abs_diff(cat.len()) < 64,
        "{} vs {}",
        got.len(),
        cat.len()
    );
}

#[test]
fn a_pipe_is_copied_to_its_end() {
    use std::io::Write;
    let d = TempDir::new("copy-pipe");
    let data = pattern(3 << 20 | 77);
    let mut child = common::spawn_piped(&["copy", "/dev/stdin", &d.s("out")]);
    let mut stdin = child.stdin.take().unwrap();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data).unwrap())
    };
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("out")).unwrap(), data);
}

#[test]
fn endless_devices_need_a_length() {
    let d = TempDir::new("copy-zero");
    let o = output_within(mmkit().args(["copy", "/dev/zero", &d.s("z")]), 60).expect("no hang");
    assert_eq!(code_of(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--length"), "{}", stderr(&o));
    assert!(!d.join("z").exists());
    let o = run(&["copy", "/dev/zero", &d.s("z"), "--length", "1M"]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("z")).unwrap(), vec![0u8; 1 << 20]);
    let o = run(&["copy", "/dev/urandom", &d.s("r"), "--length", "100K"]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::metadata(d.join("r")).unwrap().len(), 100 << 10);
    // --length on a regular file: the first bytes; beyond its end: refused.
    let data = pattern(5000);
    std::fs::write(d.join("f"), &data).unwrap();
    let o = run(&["copy", &d.s("f"), &d.s("f2"), "--length", "1000"]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("f2")).unwrap(), &data[..1000]);
    let o = run(&["copy", &d.s("f"), &d.s("f3"), "--length", "6000"]);
    assert_eq!(code_of(&o), 2, "{}", stderr(&o));
}

#[test]
fn a_fifo_with_a_writer_is_copied_completely() {
    use std::io::Write;
    let d = TempDir::new("copy-fifo");
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let data = pattern(2 << 20 | 5);
    let writer = {
        let (data, fifo) = (data.clone(), fifo.clone());
        std::thread::spawn(move || {
            // Blocks until mmkit opens the FIFO for reading.
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            for c in data.chunks(100_000) {
                f.write_all(c).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let o = output_within(mmkit().args(["copy", &d.s("fifo"), &d.s("out")]), 120)
        .expect("copy of a FIFO hung");
    writer.join().unwrap();
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("out")).unwrap(), data);
}

#[test]
fn a_fifo_without_a_writer_times_out_with_a_message() {
    let d = TempDir::new("copy-fifo-nowriter");
    mkfifo(&d.join("fifo"));
    let o = output_within(
        mmkit().args(["copy", "--fifo-wait", "1", &d.s("fifo"), &d.s("out")]),
        60,
    )
    .expect("copy of a FIFO without a writer hung");
    assert_eq!(code_of(&o), 11, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("waiting up to 1 s for a writer"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("no writer opened the FIFO"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("out").exists());
    // An existing output is refused before any waiting.
    std::fs::write(d.join("out"), b"x").unwrap();
    let o = output_within(mmkit().args(["copy", &d.s("fifo"), &d.s("out")]), 10)
        .expect("waited for a writer before refusing the output");
    assert_eq!(code_of(&o), 4, "{}", stderr(&o));
}

#[test]
#[ignore = "needs root"]
fn a_loop_device_is_copied_whole() {
    let d = TempDir::new("copy-loop");
    let data = pattern(1 << 20);
    std::fs::write(d.join("img"), &data).unwrap();
    let o = std::process::Command::new("losetup")
        .args(["-f", "--show", &d.s("img")])
        .output()
        .expect("losetup");
    assert!(o.status.success(), "losetup: {}", stderr(&o));
    let dev = stdout(&o).trim().to_string();
    let mut results = Vec::new();
    for m in ["kernel", "read", "mmap"] {
        let out = d.s(&format!("out-{m}"));
        let o = run(&["copy", "--method", m, &dev, &out]);
        results.push((m, code_of(&o), stderr(&o), std::fs::read(&out).ok()));
    }
    let _ = std::process::Command::new("losetup")
        .args(["-d", &dev])
        .status();
    for (m, code, err, got) in results {
        assert_eq!(code, 0, "{m}: {err}");
        assert!(got.as_deref() == Some(&data[..]), "{m}: copy differs");
    }
}
