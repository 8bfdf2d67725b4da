//! Edge cases of the record commands (issue 11): refusals that used to be
//! silent, check's exit status over many files, inputs that are FIFOs.

mod common;
use common::*;

fn code_of(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn gen_refuses_empty_records_without_allow_empty() {
    let d = TempDir::new("gen-empty");
    let o = run(&[
        "gen",
        &d.s("a.seed"),
        "--layout",
        "seed",
        "--size",
        "4K",
        "--max-payload",
        "0",
    ]);
    assert_eq!(code_of(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-empty"), "{}", stderr(&o));
    assert!(!d.join("a.seed").exists());
    // With --allow-empty the file is written, and check accepts it so.
    let o = run(&[
        "gen",
        &d.s("b.seed"),
        "--layout",
        "seed",
        "--size",
        "4K",
        "--max-payload",
        "0",
        "--allow-empty",
    ]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    let o = run(&["check", "--layout", "seed", "--allow-empty", &d.s("b.seed")]);
    assert_eq!(code_of(&o), 0, "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn pcap_refuses_flags_it_cannot_honour() {
    let d = TempDir::new("pcap-flags");
    let f = d.s("a.pcap");
    let o = run(&["gen", &f, "--layout", "pcap", "--size", "64K"]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
    for (flags, named) in [
        (&["--layout", "pcap", "--len-width", "2"][..], "--len-width"),
        (&["--len-includes-header"][..], "--len-includes-header"),
        (
            &["--layout", "pcap", "--magic-width", "2"][..],
            "--magic-width",
        ),
        (&["--magic-offset", "4"][..], "--magic-offset"),
        (&["--len-endian", "be"][..], "--len-endian"),
    ] {
        let mut args = vec!["check"];
        args.extend_from_slice(flags);
        args.push(&f);
        let o = run(&args);
        assert_eq!(code_of(&o), 2, "{flags:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(named), "{flags:?}: {}", stderr(&o));
    }
    let o = run(&["check", &f]);
    assert_eq!(code_of(&o), 0, "{}", stderr(&o));
}

#[test]
fn rec_header_len_alone_says_what_a_custom_layout_needs() {
    let d = TempDir::new("rec-header-len");
    let f = d.s("a.seed");
    assert_eq!(code_of(&run(&["gen", &f, "--size", "64K"])), 0);
    let o = run(&["check", "--rec-header-len", "8", &f]);
    assert_eq!(code_of(&o), 2, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--rec-header-len without --layout")
            && e.contains("--header-len N and --len-offset N")
            && e.contains("--layout seed --rec-header-len N"),
        "{e}"
    );
}

#[test]
fn check_goes_on_after_an_unreadable_file_and_exits_with_the_worst_status() {
    let d = TempDir::new("check-many");
    let (a, b) = (d.s("a.seed"), d.s("b.seed"));
    assert_eq!(code_of(&run(&["gen", &a, "--size", "64K"])), 0);
    assert_eq!(
        code_of(&run(&["gen", &b, "--size", "64K", "--seed", "2"])),
        0
    );
    let missing = d.s("missing.seed");
    // A missing file between two clean ones: both are checked, exit 1 (I/O).
    let o = run(&["check", &a, &missing, &b]);
    assert_eq!(code_of(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("{a}: OK")), "{out}");
    assert!(out.contains(&format!("{b}: OK")), "{out}");
    assert!(out.contains(&format!("{missing}: NOT CHECKED")), "{out}");
    assert!(stderr(&o).contains("ENOENT"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 of 3 files could not be checked"),
        "{}",
        stderr(&o)
    );
    // Damage alone: 3; damage and an I/O error: the I/O error wins.
    let bytes = std::fs::read(&b).unwrap();
    std::fs::write(&b, &bytes[..bytes.len() - 5]).unwrap();
    let o = run(&["check", &a, &b]);
    assert_eq!(code_of(&o), 3, "{}{}", stdout(&o), stderr(&o));
    let o = run(&["check", &b, &missing, &a]);
    assert_eq!(code_of(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("DAMAGED") && stdout(&o).contains(&format!("{a}: OK")));
    assert!(stderr(&o).contains("others are damaged"), "{}", stderr(&o));
}

#[test]
fn fifos_are_refused_by_check_join_and_devmem_without_hanging() {
    let d = TempDir::new("fifo-refused");
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let f = d.s("fifo");
    let out = d.s("joined");
    for args in [
        vec!["check", f.as_str()],
        vec!["join", f.as_str(), "-o", &out],
        vec!["devmem", "--file", f.as_str(), "0x0"],
        vec!["md", "--file", f.as_str(), "0x0+0x10"],
    ] {
        let o = output_within(mmkit().args(&args), 60).unwrap_or_else(|| panic!("{args:?} hung"));
        assert_eq!(code_of(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("FIFO"), "{args:?}: {}", stderr(&o));
    }
    let o = run(&["check", &f]);
    assert!(stderr(&o).contains("split FIFO"), "{}", stderr(&o));
}
