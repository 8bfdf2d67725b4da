//! Fault tests: the input shrinking under a running split (a real SIGBUS,
//! caught), a full disk, and the file size limit. Each checks the message,
//! the exit code, that finished pieces are valid and that no temporary file
//! is left behind.

mod common;
use common::{TempDir, mmkit, run, stderr, stdout};
use std::path::Path;

use common::names as files;

fn assert_no_temps(dir: &Path) {
    let f = files(dir);
    assert!(
        f.iter().all(|n| !n.ends_with(".tmp")),
        "temporary files left: {f:?}"
    );
}

/// Split with a debug pause before piece 1; truncate the input from this
/// (other) process during the pause; the split must report the change and
/// exit 6, not die of SIGBUS.
///
/// The walk of pieces 2 and 3 races the truncation. With `--write kernel`
/// the walk reads through `pread` (`--access read`), so whichever thread
/// meets the shorter file first reports it as an error and the list of
/// finished pieces is printed; a walk through the mapping would end in the
/// SIGBUS handler instead (the `mmap` case tests that path).
fn truncate_mid_split(write: &str) {
    let t = TempDir::new(&format!("shrink-{write}"));
    let input = t.s("in.seed");
    let o = run(&["gen", &input, "--size", "8M"]);
    assert!(o.status.success());
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
        write,
    ]);
    if write == "kernel" {
        cmd.args(["--access", "read"]);
    }
    let (mut child, mut log) = common::spawn_paused(&mut cmd, 3000);
    let mut err = child.stderr.take().expect("stderr");
    // The other process: cut the file to 4 KiB while it is mapped.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&input)
        .unwrap()
        .set_len(4096)
        .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    log.push_str(&rest);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "killed by a signal: {log}");
    assert_eq!(status.code(), Some(6), "{log}");
    assert!(log.contains("in.seed"), "{log}");
    assert!(log.contains("shrank"), "{log}");
    if write == "mmap" {
        // The copy reads through the still-mapped window: a real SIGBUS,
        // caught by the handler, which also removed the temporary piece.
        assert!(log.contains("bus error reading"), "{log}");
        assert!(log.contains("unfinished output was removed"), "{log}");
    }
    assert_no_temps(&out);
    if write == "kernel" {
        assert!(
            log.contains(
                "in.0000.seed to in.0000.seed (1) are complete and valid; the set is incomplete"
            ),
            "{log}"
        );
    }
    // Piece 0 was finished before the truncation: it is complete and valid,
    // and the manifest says the set is incomplete, so join refuses it.
    assert_eq!(files(&out), ["in.0000.seed", "in.manifest"]);
    let piece = out.join("in.0000.seed");
    let c = run(&["check", &piece.to_string_lossy()]);
    assert!(c.status.success(), "{}", stdout(&c));
    let manifest = std::fs::read_to_string(out.join("in.manifest")).unwrap();
    assert!(
        manifest.contains("piece ") && !manifest.contains("state complete"),
        "{manifest}"
    );
    let j = run(&["join", &piece.to_string_lossy(), "-o", &t.s("j")]);
    assert_eq!(j.status.code(), Some(3), "{}", stderr(&j));
    assert!(stderr(&j).contains("did not finish"), "{}", stderr(&j));
}

#[test]
fn input_truncated_mid_split_mmap_is_caught_sigbus() {
    truncate_mid_split("mmap");
}

#[test]
fn input_truncated_mid_split_kernel_is_reported() {
    truncate_mid_split("kernel");
}

#[test]
fn file_size_limit_is_a_clear_error() {
    let t = TempDir::new("fsize");
    let input = t.s("in.pcap");
    assert!(
        run(&["gen", &input, "--layout", "pcap", "--size", "3M"])
            .status
            .success()
    );
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    for write in ["kernel", "mmap"] {
        let mut cmd = mmkit();
        cmd.args([
            "join",
            &input,
            "-o",
            &out.join(format!("j-{write}")).to_string_lossy(),
            "--write",
            write,
        ]);
        common::rlimit(&mut cmd, libc::RLIMIT_FSIZE as i32, 1 << 20, false);
        let o = cmd.output().unwrap();
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{write}: {e}");
        assert!(
            e.contains("EFBIG") && e.contains("ulimit -f"),
            "{write}: {e}"
        );
        assert_no_temps(&out);
        assert!(files(&out).is_empty());
    }
}

/// A 3 MiB tmpfs: the third 1 MiB piece cannot be written.
#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn disk_full_keeps_finished_pieces_valid() {
    let t = TempDir::new("full");
    let input = t.s("in.seed");
    assert!(run(&["gen", &input, "--size", "8M"]).status.success());
    let mnt = t.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=3m",
            "tmpfs",
            &mnt.to_string_lossy(),
        ])
        .output();
    let m = m.expect("run mount");
    assert!(
        m.status.success(),
        "cannot mount a tmpfs: {}",
        String::from_utf8_lossy(&m.stderr)
    );
    struct Umount<'a>(&'a Path);
    impl Drop for Umount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _u = Umount(&mnt);
    for write in ["kernel", "mmap"] {
        let o = run(&[
            "split",
            &input,
            "-o",
            &mnt.to_string_lossy(),
            "--size",
            "1M",
            "--write",
            write,
            "--force",
        ]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(5), "{write}: {e}");
        assert!(e.contains("ENOSPC"), "{write}: {e}");
        assert_no_temps(&mnt);
        let done = files(&mnt);
        let pieces: Vec<&String> = done.iter().filter(|f| f.ends_with(".seed")).collect();
        assert!(!pieces.is_empty() && pieces.len() < 8, "{write}: {done:?}");
        for f in &pieces {
            let c = run(&["check", &mnt.join(f).to_string_lossy()]);
            assert!(c.status.success(), "{write}: {f}: {}", stdout(&c));
        }
        // The manifest lists the finished pieces and does not call the set
        // complete.
        let m = std::fs::read_to_string(mnt.join("in.manifest")).unwrap();
        assert_eq!(m.matches("\npiece ").count(), pieces.len(), "{write}: {m}");
        assert!(!m.contains("state complete"), "{write}: {m}");
        for f in &done {
            std::fs::remove_file(mnt.join(f)).unwrap();
        }
    }
}

/// Where the filesystem cannot map (ENODEV), mmkit reads with pread();
/// MMKIT_NO_MMAP=1 forces that path. Results must be identical.
#[test]
fn read_fallback_gives_identical_results() {
    let t = TempDir::new("nommap");
    let input = t.s("in.pcap");
    assert!(
        run(&["gen", &input, "--layout", "pcap", "--size", "3M"])
            .status
            .success()
    );
    let a = t.join("a");
    let b = t.join("b");
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let o = run(&[
        "split",
        &input,
        "-o",
        &a.to_string_lossy(),
        "--size",
        "500K",
        "--write",
        "mmap",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = mmkit()
        .args([
            "split",
            &input,
            "-o",
            &b.to_string_lossy(),
            "--size",
            "500K",
            "--window",
            "64K",
        ])
        .env("MMKIT_NO_MMAP", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files(&a), files(&b));
    for f in files(&a) {
        assert!(
            std::fs::read(a.join(&f)).unwrap() == std::fs::read(b.join(&f)).unwrap(),
            "{f} differs"
        );
    }
    let c = mmkit()
        .args(["check", &input])
        .env("MMKIT_NO_MMAP", "1")
        .output()
        .unwrap();
    assert!(c.status.success(), "{}", stdout(&c));
}

/// A window that does not fit the address space (ENOMEM) is retried smaller.
#[test]
fn window_too_large_for_address_space_is_retried_smaller() {
    if std::env::var_os("MMKIT_TEST_RUNNER").is_some() || cfg!(target_pointer_width = "32") {
        eprintln!("SKIP: RLIMIT_AS would also limit the emulator");
        return;
    }
    let t = TempDir::new("enomem");
    let input = t.s("in.seed");
    assert!(
        run(&["gen", &input, "--size", "1500M", "--sparse"])
            .status
            .success()
    );
    let mut cmd = mmkit();
    cmd.args(["check", &input, "--window", "4G"]);
    common::rlimit(&mut cmd, libc::RLIMIT_AS as i32, 1 << 30, false);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains("retrying with"), "{}", stderr(&o));
}
