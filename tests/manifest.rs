//! The manifest beside a split's pieces is an output like the pieces: it
//! is claimed before any piece is written, never replaced without
//! `--force`, takes the input's permission bits, and holds any file name on
//! one line. join refuses a manifest that does not vouch for its pieces, and
//! join and copy refuse to write over one of their inputs. Names longer
//! than the directory allows are refused before anything is written.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_split_with_the_same_prefix_is_refused_and_the_first_set_stays_whole() {
    let t = TempDir::new("claim");
    let (pcap, dat) = (t.s("big.pcap"), t.s("big.dat"));
    run_ok(&["gen", &pcap, "--layout", "pcap", "--size", "4M"]);
    run_ok(&["gen", &dat, "--size", "4M"]);
    let d = t.join("jm");
    let ds = d.to_string_lossy().into_owned();
    run_ok(&["split", &pcap, "-o", &ds, "--size", "1M"]);
    let before = std::fs::read(d.join("big.manifest")).unwrap();
    // Other pieces (.dat), the same manifest: refused before any piece.
    let o = run(&["split", &dat, "-o", &ds, "--size", "1M"]);
    fails(&o, 4, "big.manifest");
    assert!(stderr(&o).contains("split of big.pcap"), "{}", stderr(&o));
    assert!(pieces_ext(&d, ".dat").is_empty(), "{:?}", names(&d));
    assert_no_temporaries(&d, "refused split");
    assert_eq!(std::fs::read(d.join("big.manifest")).unwrap(), before);
    // A piece left out is named.
    let p = |i: u32| {
        d.join(format!("big.000{i}.pcap"))
            .to_string_lossy()
            .into_owned()
    };
    let out = t.s("out.pcap");
    let (p0, p1, p3) = (p(0), p(1), p(3));
    let o = run(&["join", &p0, &p1, &p3, "-o", &out]);
    fails(&o, 3, "big.0002.pcap");
    assert!(!Path::new(&out).exists());
    // With --force the manifest is replaced: it now vouches for the .dat
    // pieces only, and join refuses the .pcap ones, saying what it holds.
    run_ok(&["split", &dat, "-o", &ds, "--size", "1M", "-f"]);
    let o = run(&["join", &p0, &p1, &p3, "-o", &out]);
    fails(&o, 3, "lists none of these pieces");
    assert!(stderr(&o).contains("split of big.dat"), "{}", stderr(&o));
    assert!(stderr(&o).contains("--no-manifest"), "{}", stderr(&o));
    // --no-manifest: checked by content only (timestamps still increase).
    run_ok(&["join", &p0, &p1, &p3, "-o", &out, "--no-manifest"]);
    let all = pieces_ext(&d, ".pcap");
    let whole = t.s("whole.pcap");
    let mut a = vec!["join"];
    a.extend(all.iter().map(String::as_str));
    a.extend(["-o", &whole, "--no-manifest"]);
    run_ok(&a);
    assert_eq!(
        std::fs::read(&whole).unwrap(),
        std::fs::read(&pcap).unwrap()
    );
}

#[test]
fn of_two_concurrent_splits_with_one_prefix_the_winners_set_joins() {
    let t = TempDir::new("race");
    let inputs: Vec<String> = (1..=2)
        .map(|i| {
            let dir = t.join(&format!("in{i}"));
            std::fs::create_dir(&dir).unwrap();
            let f = dir.join("cap.pcap").to_string_lossy().into_owned();
            let seed = i.to_string();
            run_ok(&[
                "gen", &f, "--layout", "pcap", "--size", "2M", "--seed", &seed,
            ]);
            f
        })
        .collect();
    for round in 0..10 {
        let d = t.join(&format!("out{round}"));
        std::fs::create_dir(&d).unwrap();
        let ds = d.to_string_lossy().into_owned();
        let mut children: Vec<_> = inputs
            .iter()
            .map(|f| {
                mmkit()
                    .args(["split", f, "-o", &ds, "--size", "128K", "--no-sync", "-q"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut codes = Vec::new();
        for c in &mut children {
            loop {
                if let Some(s) = c.try_wait().unwrap() {
                    codes.push(s.code().expect("exit code"));
                    break;
                }
                assert!(Instant::now() < deadline, "round {round}: a split hangs");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let winner = match codes.as_slice() {
            [0, 4] => 0,
            [4, 0] => 1,
            _ => panic!("round {round}: exit codes {codes:?}, want one 0 and one 4"),
        };
        assert_no_temporaries(&d, "after the race");
        let pieces = pieces_ext(&d, ".pcap");
        let joined = t.s(&format!("joined{round}"));
        let mut a = vec!["join"];
        a.extend(pieces.iter().map(String::as_str));
        a.extend(["-o", &joined, "--no-sync"]);
        run_ok(&a);
        assert!(
            std::fs::read(&joined).unwrap() == std::fs::read(&inputs[winner]).unwrap(),
            "round {round}: the joined set is not the winner's input"
        );
    }
}

#[test]
fn a_split_that_finishes_no_piece_leaves_no_manifest_behind() {
    let t = TempDir::new("nopiece");
    let f = t.s("in.seed");
    run_ok(&["gen", &f, "--size", "3M"]);
    let d = t.join("d");
    let ds = d.to_string_lossy().into_owned();
    let mut cmd = mmkit();
    cmd.args(["split", &f, "-o", &ds, "--size", "2M"]);
    rlimit(&mut cmd, libc::RLIMIT_FSIZE as i32, 1 << 20, false);
    let o = cmd.output().unwrap();
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(names(&d).is_empty(), "{:?}", names(&d));
    // So the same split runs again without --force.
    run_ok(&["split", &f, "-o", &ds, "--size", "2M"]);
}

#[test]
fn the_manifest_takes_the_inputs_permission_bits() {
    for bits in [0o600, 0o640] {
        let t = TempDir::new("mode");
        let f = t.s("cap.pcap");
        run_ok(&["gen", &f, "--layout", "pcap", "--size", "300K"]);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(bits)).unwrap();
        let d = t.join("d");
        run_ok(&["split", &f, "-o", &d.to_string_lossy(), "--size", "100K"]);
        // As the pieces: the input's bits (the umask applies to both).
        let m = mode(&d.join("cap.manifest"));
        assert_eq!(m & !bits, 0, "{m:o} from an input of {bits:o}");
        for p in pieces_ext(&d, ".pcap") {
            assert_eq!(mode(Path::new(&p)), m, "{p}");
        }
        // A stream split too.
        let s = t.join("s");
        let o = mmkit()
            .args(["split", "-", "-o", &s.to_string_lossy(), "--size", "100K"])
            .stdin(std::fs::File::open(&f).unwrap())
            .output()
            .unwrap();
        ok(&o);
        let m = mode(&s.join("stdin.manifest"));
        assert_eq!(m, mode(&s.join("stdin.000000.pcap")), "stream {bits:o}");
    }
}

#[test]
fn names_with_a_newline_a_tab_and_a_backslash_survive_split_and_join() {
    let t = TempDir::new("ctl");
    let name = "we\nird\tna\\me\u{1}.pcap";
    let f = t.join(name);
    let fs = f.to_string_lossy().into_owned();
    run_ok(&["gen", &fs, "--layout", "pcap", "--size", "500K"]);
    let d = t.join("d");
    run_ok(&["split", &fs, "-o", &d.to_string_lossy(), "--size", "100K"]);
    let m = std::fs::read_to_string(d.join("we\nird\tna\\me\u{1}.manifest")).unwrap();
    let input = m.lines().nth(1).unwrap_or_default();
    assert!(
        input.starts_with("input ") && input.ends_with(" we\\nird\\tna\\\\me\\x01.pcap"),
        "{m}"
    );
    let pieces = pieces_ext(&d, ".pcap");
    assert_eq!(pieces.len(), 6, "{pieces:?}");
    assert_eq!(m.matches("\npiece ").count(), pieces.len(), "{m}");
    // Given in reverse: the manifest puts them in order.
    let out = t.s("joined.pcap");
    let mut a = vec!["join"];
    a.extend(pieces.iter().rev().map(String::as_str));
    a.extend(["-o", &out]);
    run_ok(&a);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&f).unwrap());
    if have_tool("capinfos") {
        let o = std::process::Command::new("capinfos")
            .args(["-c", &out])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    } else {
        eprintln!("capinfos not installed: the joined capture is compared byte for byte only");
    }
}

#[test]
fn join_and_copy_refuse_to_write_over_an_input() {
    let t = TempDir::new("self");
    let f = t.s("cap.pcap");
    run_ok(&["gen", &f, "--layout", "pcap", "--size", "300K"]);
    let d = t.join("d");
    run_ok(&["split", &f, "-o", &d.to_string_lossy(), "--size", "100K"]);
    let pieces = pieces_ext(&d, ".pcap");
    let first = std::fs::read(&pieces[0]).unwrap();
    std::os::unix::fs::symlink(&pieces[0], t.join("link.pcap")).unwrap();
    std::fs::hard_link(&pieces[0], t.join("hard.pcap")).unwrap();
    for out in [pieces[0].clone(), t.s("link.pcap"), t.s("hard.pcap")] {
        let mut a = vec!["join"];
        a.extend(pieces.iter().map(String::as_str));
        a.extend(["-o", &out, "-f"]);
        fails(&run(&a), 2, "the output is the input");
        assert_eq!(std::fs::read(&pieces[0]).unwrap(), first, "join -o {out}");
    }
    let data = std::fs::read(&f).unwrap();
    std::os::unix::fs::symlink(&f, t.join("flink")).unwrap();
    std::fs::hard_link(&f, t.join("fhard")).unwrap();
    for out in [f.clone(), t.s("flink"), t.s("fhard")] {
        for method in ["kernel", "mmap", "read"] {
            let o = run(&["copy", &f, &out, "-f", "--method", method]);
            fails(&o, 2, "the output is the input");
        }
        assert_eq!(std::fs::read(&f).unwrap(), data, "copy to {out}");
    }
    assert_no_temporaries(t.path(), "refused copies");
    assert_no_temporaries(&d, "refused joins");
}

#[test]
fn names_longer_than_the_directory_allows_are_refused_before_writing() {
    let t = TempDir::new("namemax");
    // 251 bytes: the input fits, its pieces (…xx.0000.pcap) do not.
    let name = format!("{}.pcap", "x".repeat(246));
    let f = t.join(&name);
    let fs = f.to_string_lossy().into_owned();
    run_ok(&["gen", &fs, "--layout", "pcap", "--size", "300K"]);
    let d = t.join("d");
    let ds = d.to_string_lossy().into_owned();
    let o = run(&["split", &fs, "-o", &ds, "--size", "100K"]);
    fails(&o, 2, "NAME_MAX");
    assert!(stderr(&o).contains("256 bytes"), "{}", stderr(&o));
    assert!(names(&d).is_empty(), "{:?}", names(&d));
    // A stream split with a prefix that long.
    let prefix = "p".repeat(245);
    let o = mmkit()
        .args([
            "split", "-", "-o", &ds, "--prefix", &prefix, "--size", "100K",
        ])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    fails(&o, 2, "NAME_MAX");
    assert!(names(&d).is_empty(), "{:?}", names(&d));
    // The manifest's name is checked too: PREFIX.manifest is longer than
    // PREFIX.0000.gz.
    let gz = t.join(&format!("{}.gz", "g".repeat(247)));
    std::fs::copy(&f, &gz).unwrap();
    let o = run(&["split", &gz.to_string_lossy(), "-o", &ds, "--size", "100K"]);
    fails(&o, 2, "manifest name");
    assert!(names(&d).is_empty(), "{:?}", names(&d));
    // A copy or join to such a name.
    let long = t.s(&"y".repeat(256));
    fails(&run(&["copy", &fs, &long]), 2, "NAME_MAX");
    fails(&run(&["join", &fs, "-o", &long]), 2, "NAME_MAX");
    assert_no_temporaries(t.path(), "refused long names");
}
