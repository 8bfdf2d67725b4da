//! Nothing lost, nothing exposed (issue 11): join never succeeds with a
//! wrong result, outputs are as private as their input, every terminating
//! signal cleans up, temporaries of a killed run are removed, outputs never
//! clobber a file that appears while they are written.

mod common;
use common::run_ok as ok;
use common::{TempDir, mmkit, names, run, stderr};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Stdio};

fn fails(args: &[&str], code: i32, needle: &str) -> String {
    let o = run(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "mmkit {args:?}: {e}");
    assert!(
        e.contains(needle),
        "mmkit {args:?}: stderr lacks {needle:?}: {e}"
    );
    e
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn pieces(dir: &Path, ext: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(ext))
        .map(|n| s(&dir.join(n)))
        .collect()
}

#[test]
fn split_refuses_leftovers_and_force_removes_them() {
    let t = TempDir::new("leftovers");
    let f = t.s("seed.dat");
    ok(&["gen", &f, "--size", "3M"]);
    let d = t.join("d");
    let ds = s(&d);
    ok(&["split", &f, "-o", &ds, "-s", "256K", "--no-sync"]);
    let first = pieces(&d, ".dat");
    assert!(first.len() >= 12, "{first:?}");
    // The case: a second split into the same place.
    fails(&["split", &f, "-o", &ds, "-s", "1M"], 4, "already exist");
    assert_eq!(pieces(&d, ".dat"), first, "nothing written when refused");
    let out = ok(&["split", &f, "-o", &ds, "-s", "1M", "-f"]);
    assert!(out.contains("removed"), "{out}");
    let now = pieces(&d, ".dat");
    assert!(now.len() < first.len(), "{now:?}");
    let mut args = vec!["join"];
    args.extend(now.iter().map(String::as_str));
    let j = t.s("j.dat");
    args.extend(["-o", &j]);
    ok(&args);
    assert_eq!(std::fs::read(&j).unwrap(), std::fs::read(&f).unwrap());
}

/// Split `name` (a pcap of `size`, `--seed` `seed`) into `dir`; the pieces.
fn split_pcap(t: &TempDir, name: &str, seed: &str, dir: &str) -> Vec<String> {
    let f = t.s(name);
    ok(&[
        "gen", &f, "--layout", "pcap", "--size", "2M", "--seed", seed,
    ]);
    let d = t.join(dir);
    ok(&["split", &f, "-o", &s(&d), "-s", "300K", "--no-sync"]);
    pieces(&d, ".pcap")
}

fn join_args<'a>(pieces: &'a [&'a str], out: &'a str) -> Vec<&'a str> {
    let mut a = vec!["join"];
    a.extend_from_slice(pieces);
    a.extend(["-o", out, "-f"]);
    a
}

#[test]
fn join_with_the_manifest_refuses_wrong_sets_and_orders_a_shuffled_one() {
    let t = TempDir::new("manifest");
    let p = split_pcap(&t, "cap.pcap", "1", "a");
    let other = split_pcap(&t, "cap2.pcap", "2", "b");
    let v: Vec<&str> = p.iter().map(String::as_str).collect();
    let out = t.s("j.pcap");
    // Duplicate, missing, foreign (same pcap header, another capture).
    let dup = [v[0], v[1], v[1], v[2]];
    fails(&join_args(&dup, &out), 3, "given twice");
    let mut missing = v.clone();
    missing.remove(2);
    fails(&join_args(&missing, &out), 3, "is missing");
    // Put piece 1 of the other capture (same pcap header) in its place.
    let keep = t.s("keep");
    std::fs::copy(&p[1], &keep).unwrap();
    std::fs::copy(&other[1], &p[1]).unwrap();
    fails(&join_args(&v, &out), 3, "does not match its entry");
    std::fs::copy(&keep, &p[1]).unwrap();
    // A leftover of an earlier split, named like a piece of this one.
    let leftover = t.join("a").join("cap.0099.pcap");
    std::fs::copy(&other[2], &leftover).unwrap();
    let mut with_leftover = v.clone();
    let lo = s(&leftover);
    with_leftover.push(&lo);
    fails(
        &join_args(&with_leftover, &out),
        3,
        "not a piece of the split",
    );
    std::fs::remove_file(&leftover).unwrap();
    // Only the order is wrong: put right, and said.
    let mut shuffled = v.clone();
    shuffled.swap(0, 3);
    let o = run(&join_args(&shuffled, &out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("order"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(t.s("cap.pcap")).unwrap()
    );
}

#[test]
fn join_of_renamed_pieces_checks_their_content() {
    let t = TempDir::new("renamed");
    // seed layout: sequence numbers; pieces copied elsewhere, renamed.
    let f = t.s("rec.dat");
    ok(&["gen", &f, "--size", "2M"]);
    let d = t.join("d");
    ok(&["split", &f, "-o", &s(&d), "-s", "300K", "--no-sync"]);
    let e = t.join("elsewhere");
    std::fs::create_dir(&e).unwrap();
    let mut v = Vec::new();
    for (i, p) in pieces(&d, ".dat").iter().enumerate() {
        let n = s(&e.join(format!("part-{}.bin", (b'a' + i as u8) as char)));
        std::fs::copy(p, &n).unwrap();
        v.push(n);
    }
    let v: Vec<&str> = v.iter().map(String::as_str).collect();
    let out = t.s("j.dat");
    ok(&join_args(&v, &out));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&f).unwrap());
    fails(&join_args(&[v[0], v[1], v[0]], &out), 3, "given twice");
    let gap = [v[0], v[1], v[3], v[4]];
    let e = fails(&join_args(&gap, &out), 3, "sequence number");
    assert!(
        e.contains("part-d.bin"),
        "names the piece after the gap: {e}"
    );
    let shuffled = [v[2], v[0], v[1], v[3]];
    let o = run(&join_args(&shuffled, &out));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not in order"), "{}", stderr(&o));
    // pcap pieces of two captures: timestamps do not continue.
    let a = split_pcap(&t, "x.pcap", "1", "x");
    let b = split_pcap(&t, "y.pcap", "9", "y");
    let ea = t.s("a.pcap");
    let eb = t.s("b.pcap");
    std::fs::copy(&a[2], &ea).unwrap();
    std::fs::copy(&b[0], &eb).unwrap();
    fails(&join_args(&[&ea, &eb], &out), 3, "timestamp");
}

#[test]
fn outputs_are_as_private_as_their_input() {
    let t = TempDir::new("modes");
    let f = t.s("secret.pcap");
    ok(&["gen", &f, "--layout", "pcap", "--size", "600K"]);
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4640)).unwrap();
    let d = t.join("d");
    ok(&["split", &f, "-o", &s(&d), "-s", "200K"]);
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let ps = pieces(&d, ".pcap");
    for p in &ps {
        // The input's bits without setuid, limited by the umask (022 here
        // at most): never world-readable.
        assert_eq!(mode(p) & 0o7007, 0, "{p}: {:o}", mode(p));
        assert_eq!(mode(p) & 0o600, 0o600, "{p}: {:o}", mode(p));
    }
    let v: Vec<&str> = ps.iter().map(String::as_str).collect();
    let j = t.s("j.pcap");
    ok(&join_args(&v, &j));
    assert_eq!(mode(&j) & 0o7007, 0, "{:o}", mode(&j));
    let c = t.s("c.pcap");
    ok(&["copy", &f, &c]);
    assert_eq!(mode(&c) & 0o7007, 0, "{:o}", mode(&c));
}

/// Start a split that pauses before its second piece; returns the child
/// once it is paused, and the output directory.
fn paused_split(
    t: &TempDir,
    tag: &str,
    extra_args: &[&str],
    extra_env: &[(&str, &str)],
) -> (Child, std::path::PathBuf) {
    let f = t.s(&format!("{tag}.seed"));
    ok(&["gen", &f, "--size", "4M"]);
    let d = t.join(tag);
    std::fs::create_dir(&d).unwrap();
    let mut cmd = mmkit();
    cmd.args(["split", &f, "-o", &s(&d), "--size", "1M"])
        .args(extra_args);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let (child, _) = common::spawn_paused(&mut cmd, 3000);
    (child, d)
}

fn temps(d: &Path) -> Vec<String> {
    names(d)
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn every_terminating_signal_removes_the_unfinished_piece() {
    let t = TempDir::new("signals");
    for (name, sig) in [
        ("hup", libc::SIGHUP),
        ("int", libc::SIGINT),
        ("quit", libc::SIGQUIT),
        ("term", libc::SIGTERM),
        ("usr1", libc::SIGUSR1),
        ("usr2", libc::SIGUSR2),
        ("bus", libc::SIGBUS),
    ] {
        let (child, d) = paused_split(&t, name, &[], &[]);
        assert_eq!(temps(&d).len(), 1, "{name}: the piece being written");
        // SAFETY: kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let out = child.wait_with_output().unwrap();
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(128 + sig), "{name}: {e}");
        assert!(temps(&d).is_empty(), "{name}: {:?}", names(&d));
        assert!(e.contains("unfinished output removed"), "{name}: {e}");
        assert!(!e.contains("cannot rename"), "{name}: {e}");
    }
}

#[test]
fn a_file_that_appears_meanwhile_is_never_clobbered() {
    let t = TempDir::new("appear");
    for mode in ["", "link", "check"] {
        let (child, d) = paused_split(&t, &format!("m{mode}"), &[], &[("MMKIT_TEST_RENAME", mode)]);
        let theirs = d.join(format!("m{mode}.0001.seed"));
        std::fs::write(&theirs, b"someone else's").unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{mode}: {}", stderr(&out));
        assert_eq!(std::fs::read(&theirs).unwrap(), b"someone else's", "{mode}");
        assert!(temps(&d).is_empty(), "{mode}: {:?}", names(&d));
    }
}

#[test]
fn stale_temporaries_of_dead_or_reused_pids_are_removed() {
    let t = TempDir::new("stale");
    let f = t.s("in.seed");
    ok(&["gen", &f, "--size", "300K"]);
    let d = t.join("d");
    std::fs::create_dir(&d).unwrap();
    // A PID that is gone: a child that has exited.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let gone = d.join(format!(".in.0000.seed.mmkit-{dead_pid}.tmp"));
    std::fs::write(&gone, vec![0u8; 4096]).unwrap();
    // A PID in use by a process started after the file was written: reused.
    let mut alive = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let reused = d.join(format!(".x.mmkit-{}-0.tmp", alive.id()));
    std::fs::write(&reused, b"x").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&reused)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // A live run's temporary (this test process, written now): kept.
    let live = d.join(format!(".y.mmkit-{}-0.tmp", std::process::id()));
    std::fs::write(&live, b"y").unwrap();
    let o = run(&["split", &f, "-o", &s(&d), "-s", "100K"]);
    let _ = alive.kill();
    let _ = alive.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("stale temporary"), "{}", stderr(&o));
    assert!(!gone.exists() && !reused.exists(), "{:?}", names(&d));
    assert!(live.exists(), "a live process's temporary is kept");
}

#[test]
fn demo_removes_its_directory_on_sighup() {
    let t = TempDir::new("demo-sig");
    let mut child = mmkit()
        .args(["demo", "--dir", &t.s(""), "--size", "32M", "--piece", "4M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for its first line: the directory exists.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("mmkit demo in"), "{line}");
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGHUP) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGHUP));
    assert!(names(t.path()).is_empty(), "{:?}", names(t.path()));
}

#[test]
fn join_opens_one_piece_at_a_time() {
    let t = TempDir::new("nofile");
    let f = t.s("many.dat");
    ok(&[
        "gen",
        &f,
        "--size",
        "600K",
        "--min-payload",
        "16",
        "--max-payload",
        "48",
    ]);
    let d = t.join("d");
    ok(&["split", &f, "-o", &s(&d), "-s", "200", "--no-sync"]);
    let ps = pieces(&d, ".dat");
    assert!(ps.len() >= 5000, "{} pieces", ps.len());
    let j = t.s("j.dat");
    let mut cmd = mmkit();
    cmd.arg("join").args(&ps).args(["-o", &j, "--no-sync"]);
    common::rlimit(&mut cmd, libc::RLIMIT_NOFILE as i32, 64, false);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&j).unwrap(), std::fs::read(&f).unwrap());
}

#[test]
fn output_directory_and_prefix_are_checked() {
    let t = TempDir::new("outdir");
    let f = t.s("in.seed");
    ok(&["gen", &f, "--size", "100K"]);
    let fresh = t.join("new");
    let o = run(&["split", &f, "-o", &s(&fresh), "-s", "50K"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("created the output directory"),
        "{}",
        stderr(&o)
    );
    assert!(!pieces(&fresh, ".seed").is_empty());
    fails(
        &["split", &f, "-o", &t.s("no/such/dir"), "-s", "50K"],
        1,
        "parent directory",
    );
    fails(&["split", &f, "-o", &f, "-s", "50K"], 2, "names a file");
    for bad in ["../x", "/abs", "", ".hidden", "a/b"] {
        fails(
            &[
                "split",
                &f,
                "-o",
                &s(&fresh),
                "-s",
                "50K",
                "--prefix",
                bad,
                "-f",
            ],
            2,
            "bad --prefix",
        );
    }
}

#[test]
fn an_input_replaced_in_place_mid_split_leaves_no_bad_piece() {
    let t = TempDir::new("replaced");
    for write in ["kernel", "mmap"] {
        // The walk reads with pread: it runs ahead of the paused writer, and
        // a walk through a mapping that meets the truncation takes SIGBUS
        // instead (reported as "the file shrank while mapped", also safe);
        // this test is about the writer's re-check of what the walk saw.
        let args = ["--write", write, "--access", "read"];
        let (child, d) = paused_split(&t, &format!("r{write}"), &args, &[]);
        // Another process rewrites the input in place: truncated to 0, then
        // extended back to its size (zeros), while piece 1 waits.
        let input = t.join(&format!("r{write}.seed"));
        let len = std::fs::metadata(&input).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&input)
            .unwrap();
        f.set_len(0).unwrap();
        f.set_len(len).unwrap();
        let out = child.wait_with_output().unwrap();
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(6), "{write}: {e}");
        assert!(
            e.contains("the input changed while it was copied"),
            "{write}: {e}"
        );
        assert!(temps(&d).is_empty(), "{write}: {:?}", names(&d));
        assert_eq!(
            pieces(&d, ".seed"),
            [s(&d.join(format!("r{write}.0000.seed")))]
        );
    }
}

#[test]
fn names_up_to_255_bytes_work() {
    let t = TempDir::new("longnames");
    let f = t.s("in.seed");
    ok(&["gen", &f, "--size", "100K"]);
    // PREFIX.0000.seed is exactly 255 bytes: the temporary must fit too.
    let prefix = "p".repeat(255 - ".0000.seed".len());
    let d = t.join("d");
    let o = run(&["split", &f, "-o", &s(&d), "-s", "60K", "--prefix", &prefix]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = format!("{prefix}.0000.seed");
    assert_eq!(first.len(), 255);
    assert!(d.join(&first).exists(), "{:?}", names(&d));
    assert!(temps(&d).is_empty());
}

#[test]
fn check_and_join_of_a_whole_directory_skip_the_manifest() {
    let t = TempDir::new("dirstar");
    let f = t.s("in.seed");
    ok(&["gen", &f, "--size", "300K"]);
    let d = t.join("d");
    ok(&["split", &f, "-o", &s(&d), "-s", "100K"]);
    let all: Vec<String> = names(&d).iter().map(|n| s(&d.join(n))).collect();
    assert!(all.iter().any(|p| p.ends_with(".manifest")), "{all:?}");
    let mut check = vec!["check"];
    check.extend(all.iter().map(String::as_str));
    let o = run(&check);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = t.s("j.seed");
    let mut join = vec!["join"];
    join.extend(all.iter().map(String::as_str));
    join.extend(["-o", &j]);
    ok(&join);
    assert_eq!(std::fs::read(&j).unwrap(), std::fs::read(&f).unwrap());
}
