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
