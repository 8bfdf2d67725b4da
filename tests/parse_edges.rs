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

/// A pcap file made by `mmkit gen`, with the version and link-type fields
/// of its file header replaced.
fn crafted_pcap(t: &TempDir, name: &str, major: u16, minor: u16, link: u32) -> String {
    let base = t.s("base.pcap");
    if !t.join("base.pcap").exists() {
        run_ok(&["gen", "--layout", "pcap", "-s", "8K", &base]);
    }
    let mut d = std::fs::read(&base).unwrap();
    assert_eq!(d[..4], 0xA1B2_C3D4u32.to_le_bytes());
    d[4..6].copy_from_slice(&major.to_le_bytes());
    d[6..8].copy_from_slice(&minor.to_le_bytes());
    d[20..24].copy_from_slice(&link.to_le_bytes());
    let p = t.s(name);
    std::fs::write(&p, d).unwrap();
    p
}

/// Does `tool args… FILE` accept the file (exit 0)?
fn accepts(tool: &str, args: &[&str], file: &str) -> bool {
    std::process::Command::new(tool)
        .args(args)
        .arg(file)
        .output()
        .expect("spawn the peer")
        .status
        .success()
}

#[test]
fn pcap_headers_judged_as_the_peers_judge_them() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("pe-pcaphdr");
    // (major, minor, link type). capinfos (Wireshark's reader) is the peer
    // for the link-type field and majors below 2. It reads every 2.x and
    // later version, where libpcap (tcpdump) refuses versions past 2.4:
    // those are judged against tcpdump. Unknown link types are left out:
    // both peers refuse them, mmkit does not interpret the link type.
    let capinfos_cases: &[(u16, u16, u32)] = &[
        (2, 4, 1),
        (2, 3, 1),
        (1, 4, 1),
        (0, 0, 1),
        (2, 4, 0x0001_0001),
        (2, 4, 0x0200_0001),
        (2, 4, 0x03FF_0001),
        (2, 4, 0x0400_0001),
        (2, 4, 0x1400_0001),
        (2, 4, 0xF000_0001),
        (2, 4, 0xF400_0001),
        (2, 4, 0x0800_0001),
    ];
    let tcpdump_cases: &[(u16, u16, u32)] = &[(2, 5, 1), (3, 0, 1), (2, 4, 0x0010_0001)];
    let have_tcpdump = have_tool("tcpdump");
    for (i, &(major, minor, link)) in capinfos_cases.iter().chain(tcpdump_cases).enumerate() {
        let f = crafted_pcap(&t, &format!("c{i}.pcap"), major, minor, link);
        let peer = if i < capinfos_cases.len() {
            accepts("capinfos", &[], &f)
        } else if have_tcpdump {
            accepts("tcpdump", &["-nr"], &f)
        } else {
            eprintln!("SKIP {major}.{minor}: tcpdump is not installed");
            continue;
        };
        let what = format!("version {major}.{minor}, link type 0x{link:08X}");
        let o = run(&["check", &f]);
        let c = code(&o);
        assert_eq!(c == 0, peer, "check, {what}: {}", stderr(&o));
        if !peer {
            assert_eq!(c, 3, "check, {what}: {}", stderr(&o));
            // check reports on stdout
            let msg = stdout(&o);
            assert!(
                msg.contains("reserved bits") || msg.contains("unsupported pcap version"),
                "{what}: {msg}"
            );
            let out = t.s(&format!("o{i}"));
            let o = run(&["split", &f, "-o", &out, "--size", "4K"]);
            assert_eq!(code(&o), 3, "split, {what}: {}", stderr(&o));
            let data = std::fs::read(&f).unwrap();
            std::fs::create_dir_all(&out).unwrap();
            let o = run_stdin(&["split", "-", "-o", &out, "--size", "4K"], &data);
            assert_eq!(code(&o), 3, "stream split, {what}: {}", stderr(&o));
            assert_no_temporaries(t.join(&format!("o{i}")).as_path(), &what);
        }
    }
}

#[test]
fn pcap_versions_that_keep_the_lengths_the_other_way_round_are_refused() {
    // libpcap reads 2.0-2.2 and DG/UX's 543.0 with orig_len before
    // incl_len; mmkit reads only the 2.3/2.4 order, and says so.
    let t = TempDir::new("pe-pcapold");
    for (major, minor) in [(2, 0), (2, 2), (543, 0)] {
        let f = crafted_pcap(&t, &format!("v{major}.{minor}.pcap"), major, minor, 1);
        let o = run(&["check", &f]);
        assert_eq!(code(&o), 3);
        let want = format!(
            "unsupported pcap version {major}.{minor}: mmkit reads versions 2.4 and 2.3 at byte 4"
        );
        assert!(stdout(&o).contains(&want), "{}", stdout(&o));
        let o = run(&["split", &f, "-o", &t.s("out"), "-n"]);
        fails(&o, 3, &format!("unsupported pcap version {major}.{minor}"));
    }
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
