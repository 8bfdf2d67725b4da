//! Integration tests for gen / split / check / join / copy / demo, running
//! the real binary.

mod common;
use common::run_ok as ok;
use common::{TempDir, run, stderr, stdout};
use std::path::Path;

fn code(args: &[&str]) -> (i32, String, String) {
    let o = run(args);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

/// Full paths of the pieces in `dir` (every file but the split's
/// manifest), sorted.
fn pieces(dir: &Path) -> Vec<String> {
    common::names(dir)
        .iter()
        .filter(|n| !n.ends_with(".manifest"))
        .map(|n| dir.join(n).to_string_lossy().into_owned())
        .collect()
}

fn no_temps(dir: &Path) {
    for n in common::names(dir) {
        assert!(!n.ends_with(".tmp"), "temporary file left behind: {n}");
    }
}

fn roundtrip(t: &TempDir, name: &str, gen_args: &[&str], split_args: &[&str], limit: u64) {
    let input = t.s(name);
    let mut g = vec!["gen", &input];
    g.extend_from_slice(gen_args);
    ok(&g);
    let out = t.join(&format!("{name}.d"));
    std::fs::create_dir_all(&out).unwrap();
    let outs = out.to_string_lossy().into_owned();
    let mut s = vec!["split", &input, "-o", &outs];
    s.extend_from_slice(split_args);
    ok(&s);
    let ps = pieces(&out);
    assert!(ps.len() > 1, "expected several pieces, got {ps:?}");
    let mut layout_flags: Vec<&str> = Vec::new();
    let mut it = split_args.iter();
    while let Some(a) = it.next() {
        if matches!(
            *a,
            "--endian"
                | "--header-len"
                | "--layout"
                | "--len-width"
                | "--rec-header-len"
                | "--len-offset"
                | "--len-endian"
        ) {
            layout_flags.push(a);
            layout_flags.push(it.next().unwrap());
        } else if *a == "--len-includes-header" || *a == "--no-magic" {
            layout_flags.push(a);
        }
    }
    for p in &ps {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len <= limit, "{p} is {len} bytes, over the {limit} limit");
        let mut c = vec!["check", p.as_str()];
        c.extend_from_slice(&layout_flags);
        let report = ok(&c);
        assert!(report.contains(": OK"), "{report}");
    }
    let joined = t.s(&format!("{name}.joined"));
    let mut j = vec!["join"];
    j.extend(ps.iter().map(String::as_str));
    j.extend_from_slice(&["-o", &joined]);
    j.extend_from_slice(&layout_flags);
    ok(&j);
    assert!(
        std::fs::read(&input).unwrap() == std::fs::read(&joined).unwrap(),
        "join(split(x)) != x"
    );
    no_temps(&out);
}

#[test]
fn seed_roundtrip_kernel_and_mmap() {
    let t = TempDir::new("seed");
    roundtrip(
        &t,
        "a.seed",
        &["--size", "3M"],
        &["--size", "500K"],
        500 << 10,
    );
    roundtrip(
        &t,
        "b.seed",
        &["--size", "3M"],
        &["--size", "500K", "--write", "mmap", "--window", "64K"],
        500 << 10,
    );
}

#[test]
fn pcap_and_big_endian_and_odd_layouts_roundtrip() {
    let t = TempDir::new("lay");
    roundtrip(
        &t,
        "a.pcap",
        &["--layout", "pcap", "--size", "2M"],
        &["--size", "300K"],
        300 << 10,
    );
    roundtrip(
        &t,
        "b.pcap",
        &["--layout", "pcap", "--endian", "be", "--size", "2M"],
        &["--size", "300KB", "--write", "mmap"],
        300_000,
    );
    roundtrip(
        &t,
        "c.seed",
        &[
            "--endian",
            "be",
            "--header-len",
            "137",
            "--min-payload",
            "1",
            "--max-payload",
            "999",
            "--size",
            "2M",
        ],
        &[
            "--endian",
            "be",
            "--header-len",
            "137",
            "--size",
            "100001",
            "--write",
            "mmap",
            "--window",
            "64K",
        ],
        100_001,
    );
    const CUSTOM: [&str; 13] = [
        "--layout",
        "custom",
        "--header-len",
        "7",
        "--rec-header-len",
        "3",
        "--len-offset",
        "1",
        "--len-width",
        "2",
        "--len-endian",
        "be",
        "--len-includes-header",
    ];
    let gen_args = [&CUSTOM[..], &["--size", "1M"]].concat();
    let split_args = [&CUSTOM[..], &["--size", "65537"]].concat();
    roundtrip(&t, "d.bin", &gen_args, &split_args, 65_537);
}

#[test]
fn gen_is_deterministic() {
    let t = TempDir::new("det");
    for (name, seed) in [("1", "9"), ("2", "9"), ("3", "10")] {
        ok(&[
            "gen",
            &t.s(name),
            "--layout",
            "pcap",
            "--size",
            "1M",
            "--seed",
            seed,
        ]);
    }
    let a = std::fs::read(t.join("1")).unwrap();
    assert_eq!(a, std::fs::read(t.join("2")).unwrap());
    assert_ne!(a, std::fs::read(t.join("3")).unwrap());
    assert!(a.len() <= 1 << 20 && a.len() > (1 << 20) - 1600);
}

#[test]
fn oversized_record_goes_alone_with_a_warning() {
    let t = TempDir::new("big");
    let f = t.s("x.seed");
    ok(&[
        "gen",
        &f,
        "--size",
        "400K",
        "--min-payload",
        "10K",
        "--max-payload",
        "90K",
    ]);
    let o = run(&["split", &f, "-o", &t.s(""), "--size", "50K"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("goes alone in its own piece"),
        "{}",
        stderr(&o)
    );
    let mut over = 0;
    for p in pieces(t.path()).iter().filter(|p| p.contains("x.0")) {
        let len = std::fs::metadata(p).unwrap().len();
        if len > 50 << 10 {
            over += 1;
            let r = ok(&["check", p]);
            assert!(
                r.contains("records:  1 "),
                "an oversized piece must hold one record: {r}"
            );
        }
    }
    assert!(over > 0);
}

#[test]
fn piece_names_and_no_clobber() {
    let t = TempDir::new("names");
    let f = t.s("cap.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "1M"]);
    let d = t.join("out");
    std::fs::create_dir(&d).unwrap();
    let ds = d.to_string_lossy().into_owned();
    ok(&["split", &f, "-o", &ds, "--size", "300K"]);
    let names: Vec<String> = pieces(&d)
        .iter()
        .map(|p| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "cap.0000.pcap",
            "cap.0001.pcap",
            "cap.0002.pcap",
            "cap.0003.pcap"
        ]
    );
    let before = std::fs::read(d.join("cap.0000.pcap")).unwrap();
    let (c, _, e) = code(&["split", &f, "-o", &ds, "--size", "200K"]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("already exist"), "{e}");
    assert_eq!(before, std::fs::read(d.join("cap.0000.pcap")).unwrap());
    ok(&["split", &f, "-o", &ds, "--size", "200K", "--force"]);
    let forced = std::fs::metadata(d.join("cap.0000.pcap")).unwrap().len();
    assert!(
        forced <= 200 << 10 && forced < before.len() as u64,
        "--force must rewrite the piece under the new limit: {forced} bytes"
    );
    // join refuses to overwrite too
    let (c, _, _) = code(&["join", &d.join("cap.0000.pcap").to_string_lossy(), "-o", &f]);
    assert_eq!(c, 4);
    // dry run writes nothing
    let e = t.join("dry");
    std::fs::create_dir(&e).unwrap();
    let out = ok(&[
        "split",
        &f,
        "-o",
        &e.to_string_lossy(),
        "--size",
        "300K",
        "-n",
    ]);
    assert!(out.contains("cap.0003.pcap"), "{out}");
    assert!(pieces(&e).is_empty());
}

fn seed_bytes(recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut v = vec![0u8; 136];
    for (magic, seq, payload) in recs {
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&seq.to_le_bytes());
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
    }
    v
}

const M: u32 = 0xEB90_146F;

#[test]
fn malformed_inputs_name_the_offset() {
    let t = TempDir::new("bad");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty file"),
        ("short-header", vec![0u8; 100], "truncated file header"),
        (
            "bad-magic",
            seed_bytes(&[(M, 0, b"abc"), (0x1234_5678, 1, b"def")]),
            "at byte 151",
        ),
        (
            "zero-len",
            seed_bytes(&[(M, 0, b"abc"), (M, 1, b"")]),
            "zero record length",
        ),
        (
            "absurd",
            {
                let mut v = seed_bytes(&[(M, 0, b"abc")]);
                v.extend_from_slice(&M.to_le_bytes());
                v.extend_from_slice(&1u32.to_le_bytes());
                v.extend_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
                v
            },
            "absurd record length",
        ),
        (
            "trunc-rec",
            {
                let mut v = seed_bytes(&[(M, 0, b"abc"), (M, 1, b"0123456789")]);
                v.truncate(v.len() - 4);
                v
            },
            "truncated last record",
        ),
        (
            "trunc-rh",
            {
                let mut v = seed_bytes(&[(M, 0, b"abc")]);
                v.extend_from_slice(&M.to_le_bytes());
                v
            },
            "truncated record header",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = t.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let ps = p.to_string_lossy().into_owned();
        let (c, out, err) = code(&["check", &ps]);
        assert_eq!(c, 3, "{name}: {out}{err}");
        assert!(out.contains(want), "{name}: expected '{want}' in {out}");
        assert!(!err.contains("panicked"), "{err}");
        let d = t.join(&format!("{name}.d"));
        std::fs::create_dir(&d).unwrap();
        let (c, _, err) = code(&["split", &ps, "-o", &d.to_string_lossy(), "--size", "1K"]);
        assert_eq!(c, 3, "{name}: {err}");
        assert!(err.contains(want) && err.contains(name), "{name}: {err}");
        no_temps(&d);
    }
    // Header-only: clean, zero records; split gives one header-only piece.
    let p = t.join("hdr-only");
    std::fs::write(&p, vec![0u8; 136]).unwrap();
    let out = ok(&["check", &p.to_string_lossy()]);
    assert!(out.contains("records:  0"), "{out}");
}

#[test]
fn check_reports_stats_and_sequence_gaps() {
    let t = TempDir::new("gaps");
    let p = t.join("g.seed");
    std::fs::write(
        &p,
        seed_bytes(&[(M, 5, b"a"), (M, 6, b"bbb"), (M, 9, b"cc")]),
    )
    .unwrap();
    let (c, out, _) = code(&["check", &p.to_string_lossy()]);
    assert_eq!(c, 3, "{out}");
    assert!(out.contains("records:  3 (42 bytes)"), "{out}");
    assert!(out.contains("min 13, max 15"), "{out}");
    assert!(out.contains("sequence: 5..9, 1 gaps"), "{out}");
    assert!(out.contains("at byte 164: expected 7, found 9"), "{out}");
}

#[test]
fn join_refuses_pieces_of_different_files() {
    let t = TempDir::new("mix");
    ok(&["gen", &t.s("a.seed"), "--size", "100K", "--seed", "1"]);
    ok(&["gen", &t.s("b.seed"), "--size", "100K", "--seed", "2"]);
    let (c, _, e) = code(&["join", &t.s("a.seed"), &t.s("b.seed"), "-o", &t.s("j")]);
    assert_eq!(c, 3, "{e}");
    assert!(e.contains("file header differs"), "{e}");
    assert!(!t.join("j").exists());
}

#[test]
fn copy_methods_are_identical() {
    let t = TempDir::new("copy");
    ok(&["gen", &t.s("src"), "--size", "3M"]);
    let src = std::fs::read(t.join("src")).unwrap();
    for m in ["mmap", "read", "kernel", "auto"] {
        let d = t.s(m);
        let out = ok(&["copy", &t.s("src"), &d, "--method", m, "--window", "64K"]);
        assert!(out.contains("copied"), "{out}");
        assert!(std::fs::read(&d).unwrap() == src, "{m} copy differs");
    }
    let (c, _, _) = code(&["copy", &t.s("src"), &t.s("mmap")]);
    assert_eq!(c, 4);
    // Empty source: the mmap method must not map a zero-length file.
    std::fs::write(t.join("empty"), b"").unwrap();
    ok(&["copy", &t.s("empty"), &t.s("empty2"), "--method", "mmap"]);
    assert_eq!(std::fs::metadata(t.join("empty2")).unwrap().len(), 0);
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let (c, _, _) = code(&["split"]);
    assert_eq!(c, 2);
    let (c, _, e) = code(&["split", "x", "--size", "10Q"]);
    assert_eq!(c, 2, "{e}");
    let (c, out, _) = code(&["--help"]);
    assert_eq!(c, 0);
    assert!(
        out.contains("Error codes") && out.contains("6 the input shrank"),
        "{out}"
    );
    let (c, out, _) = code(&["--version"]);
    assert_eq!(c, 0);
    assert!(out.starts_with("mmkit "));
}

#[test]
fn lock_refuses_clearly_when_memlock_is_low() {
    let t = TempDir::new("lock");
    ok(&["gen", &t.s("f"), "--size", "200K"]);
    let mut cmd = common::mmkit();
    cmd.args(["check", &t.s("f"), "--lock", "--window", "1M"]);
    common::rlimit(&mut cmd, libc::RLIMIT_MEMLOCK as i32, 64 << 10, true);
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("RLIMIT_MEMLOCK is 64.0 KiB") && e.contains("ulimit -l"),
        "{e}"
    );
    // Within the limit, --lock works (as root: unlimited by capability).
    let out = ok(&["check", &t.s("f"), "--lock", "--window", "64K"]);
    assert!(out.contains("OK"));
}

#[test]
fn demo_runs() {
    let t = TempDir::new("demo");
    let out = ok(&["demo", "--dir", &t.s(""), "--size", "4M", "--piece", "1M"]);
    assert!(out.contains("demo passed"), "{out}");
    assert!(out.contains("byte-identical"), "{out}");
}
