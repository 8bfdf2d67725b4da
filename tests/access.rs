//! `--access auto` chooses between the mapping and pread by measuring both
//! on the input: whatever it chooses, and however often it switches, check
//! and split must produce exactly what the forced modes produce, and `-v`
//! must say what was chosen.

mod common;
use common::{TempDir, mmkit, run_ok as ok, stderr, stdout};
use std::process::Output;

/// Run mmkit with sample spans of 64 KiB, so auto switches many times
/// even on a small input.
fn run_spans(args: &[&str]) -> Output {
    let o = mmkit()
        .env("MMKIT_AUTO_SPAN", "65536")
        .args(args)
        .output()
        .expect("spawn mmkit");
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    o
}

/// (name, bytes) of every file in `dir`, sorted by name.
fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    common::names(dir)
        .into_iter()
        .map(|n| {
            let b = std::fs::read(dir.join(&n)).unwrap();
            (n, b)
        })
        .collect()
}

#[test]
fn auto_produces_what_the_forced_modes_produce() {
    let t = TempDir::new("access-same");
    let inputs = [
        ("in.pcap", vec!["--layout", "pcap", "--size", "6M"]),
        ("in.seed", vec!["--layout", "seed", "--size", "6M"]),
        // Large records: the mapping touches a fraction of the pages.
        (
            "big.seed",
            vec!["--layout", "seed", "--size", "40M", "--sparse"],
        ),
    ];
    for (name, gen_args) in &inputs {
        let input = t.s(name);
        let mut a = vec!["gen", input.as_str()];
        a.extend(gen_args);
        ok(&a);
        let mut checks = Vec::new();
        let mut splits = Vec::new();
        for access in ["mmap", "read", "auto"] {
            let o = run_spans(&["check", &input, "--access", access]);
            checks.push(stdout(&o));
            let d = t.join(&format!("{name}-{access}"));
            let ds = d.to_string_lossy().into_owned();
            let o = run_spans(&[
                "split",
                &input,
                "-o",
                &ds,
                "--size",
                "1M",
                "--access",
                access,
                "--no-sync",
            ]);
            splits.push((stdout(&o).replace(&ds, "DIR"), files(&d)));
        }
        assert!(checks[0].contains(": OK"), "{}", checks[0]);
        assert_eq!(checks[0], checks[1], "{name}: check mmap vs read");
        assert_eq!(checks[0], checks[2], "{name}: check mmap vs auto");
        assert!(splits[0].1.len() > 2, "{name}: {:?}", splits[0].0);
        assert!(splits[0] == splits[1], "{name}: split mmap vs read differ");
        assert!(splits[0] == splits[2], "{name}: split mmap vs auto differ");
    }
}

#[test]
fn verbose_says_what_auto_chose_and_why() {
    let t = TempDir::new("access-v");
    let input = t.s("in.pcap");
    ok(&["gen", &input, "--layout", "pcap", "--size", "2M"]);
    let e = stderr(&run_spans(&["-v", "check", &input]));
    let line = e
        .lines()
        .find(|l| l.contains("--access auto measured"))
        .unwrap_or_else(|| panic!("no measurement reported:\n{e}"));
    assert!(line.contains("mmap ") && line.contains("read "), "{line}");
    assert!(
        line.ends_with("using mmap") || line.ends_with("using read"),
        "{line}"
    );
    assert!(e.contains("through mmap and"), "no summary:\n{e}");
    // Without -v, nothing; a forced mode measures nothing.
    assert!(!stderr(&run_spans(&["check", &input])).contains("--access auto"));
    let e = stderr(&run_spans(&["-v", "check", &input, "--access", "read"]));
    assert!(!e.contains("--access auto"), "{e}");
    // A stream has only read().
    let o = mmkit()
        .args([
            "-v",
            "split",
            "-",
            "-o",
            &t.s("d"),
            "--size",
            "1M",
            "--no-sync",
        ])
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a stream: read with read()"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn damage_is_reported_alike_in_every_mode() {
    let t = TempDir::new("access-bad");
    for layout in ["pcap", "seed"] {
        let input = t.s(&format!("in.{layout}"));
        ok(&["gen", &input, "--layout", layout, "--size", "3M"]);
        let mut data = std::fs::read(&input).unwrap();
        // Garbage over a stretch in the middle (some header in it breaks),
        // and a truncated last record.
        for b in &mut data[1_500_000..1_500_400] {
            *b = 0xFF;
        }
        data.truncate(data.len() - 7);
        let bad = t.s(&format!("bad.{layout}"));
        std::fs::write(&bad, &data).unwrap();
        let mut reports = Vec::new();
        for access in ["mmap", "read", "auto"] {
            let o = mmkit()
                .env("MMKIT_AUTO_SPAN", "65536")
                .args(["check", &bad, "--access", access])
                .output()
                .unwrap();
            reports.push((o.status.code(), stdout(&o)));
        }
        assert!(reports[0].1.contains("DAMAGED"), "{:?}", reports[0]);
        assert!(reports[0].1.contains("problem:"), "{:?}", reports[0]);
        assert_eq!(reports[0], reports[1], "{layout}: mmap vs read");
        assert_eq!(reports[0], reports[2], "{layout}: mmap vs auto");
    }
}
