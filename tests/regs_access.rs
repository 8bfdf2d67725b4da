//! Register access, counted: the exact bus accesses devmem, md and mw make
//! (the `MMKIT_REGS_TEST=trace` hook lists them), `--verify`, and a
//! `--file` write on a full filesystem. Regular files stand in for register
//! blocks, as in tests/regs.rs.

mod common;

use common::{TempDir, block, code, fails, native, ok, run, stderr, stdout};
use std::process::Output;

/// Run mmkit with the `trace` test hook: its output and the register
/// accesses it made (`R 0x40 32`, `W 0x44 8`, ...), in order.
fn traced(args: &[&str]) -> (Output, Vec<String>) {
    let o = common::mmkit()
        .env("MMKIT_REGS_TEST", "trace")
        .args(args)
        .output()
        .unwrap();
    let acc = stderr(&o)
        .lines()
        .filter_map(|l| l.strip_prefix("mmkit-trace: "))
        .map(String::from)
        .collect();
    (o, acc)
}

#[test]
fn accesses_are_exactly_the_ones_busybox_makes() {
    let t = TempDir::new("regs-accesses");
    let f = block(&t);
    let cases: &[(&[&str], &[&str])] = &[
        // A read is one read.
        (&["devmem", "--file", &f, "0x40"], &["R 0x40 32"]),
        (&["devmem", "--file", &f, "0x41", "8"], &["R 0x41 8"]),
        (&["devmem", "--file", &f, "0x40:7:4"], &["R 0x40 32"]),
        // A write is one write: nothing is read back (a read pops a FIFO
        // byte or clears a read-to-clear status register).
        (
            &["devmem", "--file", &f, "0x40", "32", "0x1"],
            &["W 0x40 32"],
        ),
        (
            &["devmem", "--file", &f, "0x42", "h", "0x2"],
            &["W 0x42 16"],
        ),
        (&["devmem", "--file", &f, "0x40=0x3"], &["W 0x40 32"]),
        // --no-readback is a deprecated no-op.
        (
            &["devmem", "--no-readback", "--file", &f, "0x40", "32", "0x1"],
            &["W 0x40 32"],
        ),
        // --verify adds the read-back.
        (
            &["devmem", "--verify", "--file", &f, "0x40", "32", "0x1"],
            &["W 0x40 32", "R 0x40 32"],
        ),
        // A bitfield write reads once (it must) and writes once.
        (
            &["devmem", "--file", &f, "0x40:3:0=0x5"],
            &["R 0x40 32", "W 0x40 32"],
        ),
        (
            &["devmem", "--verify", "--file", &f, "0x40:3:0=0x6"],
            &["R 0x40 32", "W 0x40 32", "R 0x40 32"],
        ),
        // mw: one write per value; --verify reads each back after its write.
        (
            &["mw", "--file", &f, "0x40", "1", "2"],
            &["W 0x40 32", "W 0x44 32"],
        ),
        (
            &["mw", "--no-readback", "-w", "8", "--file", &f, "0x40", "1"],
            &["W 0x40 8"],
        ),
        (
            &["mw", "--verify", "--file", &f, "0x40", "1", "2"],
            &["W 0x40 32", "R 0x40 32", "W 0x44 32", "R 0x44 32"],
        ),
        // md: one read per register, at the chosen width.
        (
            &["md", "--file", &f, "0x40+0x10"],
            &["R 0x40 32", "R 0x44 32", "R 0x48 32", "R 0x4C 32"],
        ),
        (
            &["md", "-w", "8", "--file", &f, "0x40+3"],
            &["R 0x40 8", "R 0x41 8", "R 0x42 8"],
        ),
    ];
    for (args, want) in cases {
        let (o, got) = traced(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        assert_eq!(got, *want, "{args:?}");
    }
}

#[test]
fn read_back_only_with_verify() {
    let t = TempDir::new("regs-readback");
    let f = block(&t);
    let hooked = |args: &[&str]| {
        common::mmkit()
            .env("MMKIT_REGS_TEST", "drop-writes")
            .args(args)
            .output()
            .unwrap()
    };
    // A register that ignores writes: without --verify nobody looks.
    assert_eq!(
        ok(&hooked(&["devmem", "--file", &f, "0x40", "32", "0x1"])),
        ""
    );
    let o = hooked(&["devmem", "--verify", "--file", &f, "0x40", "32", "0x1"]);
    fails(
        &o,
        9,
        &format!("wrote 0x00000001, read back 0x{:08X}", native(0x40, 4)),
    );
    assert!(stderr(&o).contains("--verify"), "{}", stderr(&o));
    ok(&hooked(&["mw", "--file", &f, "0x40", "1", "2"]));
    ok(&hooked(&[
        "mw",
        "--no-readback",
        "--file",
        &f,
        "0x40",
        "1",
        "2",
    ]));
    fails(
        &hooked(&["mw", "--verify", "--file", &f, "0x40", "1", "2"]),
        9,
        "2 of 2 values read back differently",
    );
    ok(&hooked(&["devmem", "--file", &f, "0x40:3:0=0x5"]));
    let o = hooked(&["devmem", "--verify", "--file", &f, "0x40:3:0=0x5"]);
    let low = native(0x40, 4) & 0xF;
    fails(
        &o,
        9,
        &format!("[3:0] reads back as 0x{low:X} instead of 0x5"),
    );
    assert!(stdout(&o).contains("read-back:"), "{}", stdout(&o));
    // --no-readback is a no-op kept for old scripts; with --verify it
    // contradicts.
    fails(
        &run(&[
            "devmem",
            "--verify",
            "--no-readback",
            "--file",
            &f,
            "0x40",
            "32",
            "1",
        ]),
        2,
        "contradict",
    );
}

/// A sparse --file on a full filesystem: a store into one of its holes
/// cannot be backed. That is "no space" (exit 5), not a bus error blamed on
/// a device that did not answer.
#[test]
#[ignore = "needs root (mounts a tmpfs)"]
fn writing_a_hole_on_a_full_filesystem_says_no_space() {
    let fs = common::Tmpfs::mount("regs-full", "64k");
    let f = fs.0.s("sparse.bin");
    std::fs::File::create(&f).unwrap().set_len(1 << 20).unwrap();
    fs.fill();
    for args in [
        vec!["devmem", "--file", &f, "0x8000", "32", "0x1"],
        vec!["devmem", "--file", &f, "0x9000:3:0=0x5"],
        vec!["mw", "--file", &f, "0xA000", "1", "2"],
        vec!["mw", "-w", "8", "--verify", "--file", &f, "0xFFFFF", "1"],
    ] {
        let o = run(&args);
        fails(&o, 5, "ENOSPC");
        assert!(
            !stderr(&o).contains("no device answered"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    // A read of a hole cannot be reserved (read-only descriptor) and on
    // tmpfs still faults: the message names the full filesystem.
    let o = run(&["devmem", "--file", &f, "0x8000"]);
    fails(&o, 7, "a hole on a full filesystem");
    // Where space is already allocated, writes work on the full filesystem.
    let g = fs.0.s("filler");
    ok(&run(&["devmem", "--file", &g, "0x10", "32", "0x1"]));
    assert_eq!(ok(&run(&["devmem", "--file", &g, "0x10"])), "0x00000001\n");
}
