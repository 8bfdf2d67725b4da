//! The command-line spellings users type: `--name=value`, `-vv`, the global
//! flags after the command, and what `-q` keeps and drops. Runs the real
//! binary.

mod common;

use common::{TempDir, code, names, ok, run, stderr, stdout};

/// A 300 KiB seed file in `t`.
fn input(t: &TempDir) -> String {
    let f = t.s("in.seed");
    ok(&run(&["gen", &f, "--size", "300K", "--seed", "3"]));
    f
}

#[test]
fn options_take_name_equals_value() {
    let t = TempDir::new("cli-equals");
    let f = input(&t);
    let d = t.s("p");
    std::fs::create_dir(&d).unwrap();
    let o = run(&["split", &f, &format!("--out-dir={d}"), "--size=100K"]);
    let out = ok(&o);
    assert!(out.contains("limit 102400 bytes"), "{out}");
    let pieces = names(std::path::Path::new(&d));
    assert!(pieces.len() >= 3, "{pieces:?}");
    for p in &pieces {
        let len = std::fs::metadata(t.join("p").join(p)).unwrap().len();
        assert!(len <= 100 << 10, "{p}: {len}");
    }
    // Values may contain '=' after the first one, and numbers use the
    // number grammar as with a space.
    let o = run(&["check", "--magic=0xEB90146F", &f]);
    ok(&o);
    // A switch does not take a value: refused, not silently a positional.
    let o = run(&["split", &f, "--force=yes", "-n"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // The value of an option is never an option, and signs stay refused.
    for args in [
        vec!["check", "--magic", "-1", &f],
        vec!["check", "--magic=-1", &f],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("-1"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn repeated_short_flags_count() {
    let t = TempDir::new("cli-vv");
    let f = t.s("regs.bin");
    std::fs::write(&f, [0u8; 64]).unwrap();
    for flags in [&["-vv"][..], &["-vvv"], &["-v", "-v"]] {
        let mut args = flags.to_vec();
        args.extend(["devmem", "--file", &f, "0x10"]);
        let o = run(&args);
        assert_eq!(ok(&o), "0x00000000\n", "{args:?}");
        assert!(
            stderr(&o).contains("mmkit: debug: regs:"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn global_flags_work_after_the_command() {
    let t = TempDir::new("cli-global");
    let f = t.s("regs.bin");
    std::fs::write(&f, [0u8; 64]).unwrap();
    for flag in ["-v", "-vv", "--verbose"] {
        let o = run(&["devmem", "--file", &f, "0x10", flag]);
        assert_eq!(ok(&o), "0x00000000\n", "{flag}");
        assert!(
            stderr(&o).contains("mmkit: debug: regs:"),
            "{flag}: {}",
            stderr(&o)
        );
    }
    let o = run(&["devmem", "-q", "--file", &f, "0x10", "--verbose"]);
    assert_eq!(ok(&o), "0x00000000\n");
    assert_eq!(stderr(&o), "", "-q wins over -v");
    let g = t.s("g.seed");
    for flag in ["-q", "--quiet"] {
        let o = run(&["gen", &g, "--size", "64K", "-f", flag]);
        assert_eq!(ok(&o), "", "{flag}");
        assert_eq!(stderr(&o), "", "{flag}");
    }
    // After `--`, a "-q" is an operand (here: a file that does not exist).
    let o = run(&["check", "--", "-q"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("-q"), "{}", stderr(&o));
}

/// `-q` is errors only: summaries of work done go; results stay.
#[test]
fn quiet_drops_summaries_and_keeps_results() {
    let t = TempDir::new("cli-quiet");
    let f = input(&t);
    let d = t.s("p");
    std::fs::create_dir(&d).unwrap();
    // Summaries: split, join, copy, gen print nothing with -q.
    let o = run(&["-q", "split", &f, "-o", &d, "--size", "100K"]);
    assert_eq!(ok(&o), "");
    assert_eq!(stderr(&o), "");
    let mut pieces: Vec<String> = names(std::path::Path::new(&d))
        .iter()
        .map(|p| t.join("p").join(p).to_string_lossy().into_owned())
        .collect();
    pieces.sort();
    let joined = t.s("joined.seed");
    let mut args = vec!["join", "-q", "-o", &joined];
    args.extend(pieces.iter().map(String::as_str));
    assert_eq!(ok(&run(&args)), "");
    assert_eq!(std::fs::read(&joined).unwrap(), std::fs::read(&f).unwrap());
    assert_eq!(ok(&run(&["copy", &f, &t.s("copy.seed"), "-q"])), "");
    assert_eq!(
        ok(&run(&["-q", "gen", &t.s("g.seed"), "--size", "64K"])),
        ""
    );
    // Without -q they do print.
    assert!(ok(&run(&["copy", &f, &t.s("copy2.seed")])).starts_with("copied "));
    // Results stay: check reports, a split plan, register values, dumps.
    let o = run(&["-q", "check", &f]);
    assert!(ok(&o).contains("records"), "{}", stdout(&o));
    let o = run(&["split", &f, "-o", &d, "--size", "100K", "-n", "-q"]);
    let plan = ok(&o);
    assert!(plan.contains("would write"), "{plan}");
    assert!(plan.contains(".0000.seed"), "{plan}");
    let r = t.s("regs.bin");
    std::fs::write(&r, [0x5Au8; 32]).unwrap();
    assert_eq!(
        ok(&run(&["devmem", "-q", "--file", &r, "0x0", "8"])),
        "0x5A\n"
    );
    assert!(ok(&run(&["-q", "md", "--file", &r, "0+16"])).starts_with("00000000: "));
    assert!(ok(&run(&["-q", "split", "--help"])).contains("--size"));
    // Errors still print.
    let o = run(&["-q", "check", &t.s("missing")]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}

#[test]
fn help_documents_the_spellings_and_quiet() {
    let out = ok(&run(&["--help"]));
    assert!(out.contains("--name=VALUE"), "{out}");
    assert!(out.contains("errors only"), "{out}");
    assert!(out.contains("after the command"), "{out}");
}

/// The summary of a stream split gives the piece limit with its unit.
#[test]
fn a_stream_summary_gives_the_limit_in_bytes() {
    let t = TempDir::new("cli-stream-limit");
    let f = input(&t);
    let d = t.s("p");
    std::fs::create_dir(&d).unwrap();
    let o = common::mmkit()
        .args(["split", "-", "-o", &d, "--size", "100K", "--no-sync"])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(out.contains("(limit 102400 bytes)"), "{out}");
}
