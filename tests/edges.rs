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
