//! Edges of what the command line and the file headers accept: layout flags
//! that contradict each other, size suffixes in any case, pcap file headers
//! that libpcap and Wireshark refuse, register maps that define one address
//! twice or are not text.

mod common;
use common::*;
use std::io::Write;
use std::process::Stdio;

/// A generated seed file in `t`.
fn seed(t: &TempDir) -> String {
    let p = t.s("a.seed");
    run_ok(&["gen", "-s", "20K", &p]);
    p
}

/// Run mmkit with `args`, `input` on stdin.
fn run_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut c = mmkit()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmkit");
    let mut w = c.stdin.take().expect("stdin");
    // mmkit may refuse before reading it all: a broken pipe is fine.
    let _ = w.write_all(input);
    drop(w);
    c.wait_with_output().expect("wait mmkit")
}

#[test]
fn no_magic_beside_a_magic_flag_is_refused() {
    let t = TempDir::new("pe-nomagic");
    let f = seed(&t);
    let out = t.s("out");
    for flag in [
        ["--magic", "5"],
        ["--magic-offset", "4"],
        ["--magic-width", "2"],
    ] {
        let o = run(&["check", "--no-magic", flag[0], flag[1], &f]);
        fails(&o, 2, "--no-magic contradicts");
        assert!(stderr(&o).contains(flag[0]), "{}", stderr(&o));
        // split of a file, and of a stream, alike
        let o = run(&[
            "split",
            &f,
            "-o",
            &out,
            "-n",
            flag[0],
            flag[1],
            "--no-magic",
        ]);
        fails(&o, 2, "--no-magic contradicts");
        let data = std::fs::read(&f).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        let o = run_stdin(
            &["split", "-", "-o", &out, "--no-magic", flag[0], flag[1]],
            &data,
        );
        fails(&o, 2, "--no-magic contradicts");
        assert_eq!(names(t.join("out").as_path()), Vec::<String>::new());
    }
    // Alone, each is fine.
    run_ok(&["check", "--no-magic", &f]);
    run_ok(&["check", "--magic", "0xEB90146F", &f]);
}

#[test]
fn pcapng_refuses_every_record_flag_but_max_record() {
    let t = TempDir::new("pe-ngflags");
    let f = pcapng_fixture("single");
    let f = f.to_str().unwrap();
    let data = std::fs::read(f).unwrap();
    let out = t.s("out");
    std::fs::create_dir_all(&out).unwrap();
    for flag in [
        &["--magic-offset", "4"][..],
        &["--magic-width", "2"],
        &["--len-includes-header"],
        &["--no-magic"],
        &["--allow-empty"],
        &["--endian", "be"],
    ] {
        for layout in ["auto", "pcapng"] {
            let mut a = vec!["check", "--layout", layout, f];
            a.extend(flag);
            let o = run(&a);
            fails(&o, 2, "only --max-record applies");
            assert!(stderr(&o).contains(flag[0]), "{}", stderr(&o));
        }
        // A pcapng stream on stdin: the same refusal, no piece written.
        let mut a = vec!["split", "-", "-o", &out];
        a.extend(flag);
        let o = run_stdin(&a, &data);
        fails(&o, 2, "only --max-record applies");
        assert_eq!(names(t.join("out").as_path()), Vec::<String>::new());
    }
    run_ok(&["check", "--max-record", "1M", f]);
}

#[test]
fn field_widths_are_named_as_given() {
    let t = TempDir::new("pe-width");
    let f = seed(&t);
    let o = run(&["check", "--len-width", "300", &f]);
    fails(&o, 2, "--len-width 300 must be 1, 2, 4 or 8");
    let o = run(&["check", "--magic-width", "257", &f]);
    fails(&o, 2, "--magic-width 257 must be 1, 2, 4 or 8");
}

#[test]
fn size_suffixes_in_any_case() {
    let t = TempDir::new("pe-size");
    let f = seed(&t);
    let out = t.s("out");
    // `-n` plans the pieces; the plan tells the size that was understood.
    let plan = |size: &str| {
        let o = run(&["split", &f, "-o", &out, "--size", size, "-n"]);
        assert_eq!(code(&o), 0, "--size {size}: {}", stderr(&o));
        stdout(&o) + &stderr(&o)
    };
    for (a, b) in [
        ("8kb", "8KB"),
        ("8kB", "8000"),
        ("8Kb", "8000"),
        ("8k", "8K"),
        ("8kib", "8192"),
        ("8KIB", "8KiB"),
        ("1mb", "1000000"),
        ("1m", "1MiB"),
        ("1mib", "1048576"),
        ("1gb", "1GB"),
        ("8192b", "8192"),
        ("8192C", "8192"),
    ] {
        assert_eq!(plan(a), plan(b), "--size {a} is --size {b}");
    }
    assert_ne!(plan("8kb"), plan("8k"), "kb is 1000, k is 1024");
    let o = run(&["split", &f, "-o", &out, "--size", "1kbb", "-n"]);
    fails(&o, 2, "unknown suffix 'kbb'");
}

#[test]
fn register_maps_that_define_one_address_twice_are_refused() {
    let t = TempDir::new("pe-regov");
    let a = t.s("a.regs");
    std::fs::write(&a, "block a 0 0x10\n  reg R 0 32\n  reg S 0x2 16\n").unwrap();
    let o = run(&["reg", "--map", &a, "list"]);
    fails(
        &o,
        3,
        &format!(
            "{a}:3: register S at offset 0x2 (16 bits) overlaps register R at offset 0x0 (32 bits) at {a}:2"
        ),
    );
    // Blocks, across an include.
    let b = t.s("b.regs");
    std::fs::write(&b, "block b 0x1000 0x100\ninclude c.regs\n").unwrap();
    std::fs::write(t.join("c.regs"), "# more\nblock c 0x10F0 0x100\n").unwrap();
    let c = t.s("c.regs");
    let o = run(&["reg", "--map", &b, "list"]);
    fails(
        &o,
        3,
        &format!(
            "{c}:2: block c (0x10F0, size 0x100) overlaps block b (0x1000, size 0x100) at {b}:1"
        ),
    );
}

#[test]
fn a_register_map_that_is_not_utf8_is_malformed_at_its_line() {
    let t = TempDir::new("pe-regutf8");
    let m = t.s("m.regs");
    std::fs::write(
        &m,
        b"block a 0 0x10\n  reg R 0 32\n  reg S 4 32 \"caf\xe9\"\n",
    )
    .unwrap();
    let o = run(&["reg", "--map", &m, "list"]);
    fails(&o, 3, &format!("{m}:3: not UTF-8 text: byte 0xE9"));
}
