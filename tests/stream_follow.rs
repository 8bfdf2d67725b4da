//! Live data, the edges of a stream split: SIGUSR1 prints the running
//! counts (and a status line on a terminal), a SIGPIPE sent with `kill`
//! ends it like SIGTERM while a closed stdout still ends quietly,
//! `--follow` takes only regular files and stops when its file is renamed
//! over or removed, the FIFO message is for FIFOs, and the pieces' extension
//! comes from the layout.

mod common;
use common::{TempDir, join_bytes, mkfifo, mmkit, pieces_ext, run_ok, seed_bounds, stderr};
use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How long any wait here may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// The child's stderr, line by line, from a reader thread.
struct Lines {
    rx: Receiver<String>,
    log: String,
}

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let err = child.stderr.take().expect("stderr piped");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(err).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            log: String::new(),
        }
    }

    /// Wait for a line containing `needle`, calling `each` every few ms
    /// (to ask again); panics after the deadline or when stderr ends.
    fn wait_for(&mut self, needle: &str, mut each: impl FnMut()) -> String {
        let t0 = Instant::now();
        loop {
            assert!(
                t0.elapsed() < DEADLINE,
                "no line with {needle:?} on stderr:\n{}",
                self.log
            );
            each();
            match self.rx.recv_timeout(Duration::from_millis(20)) {
                Ok(l) => {
                    self.log.push_str(&l);
                    self.log.push('\n');
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => panic!("stderr ended before {needle:?}:\n{}", self.log),
            }
        }
    }

    /// The rest of stderr (the child has exited).
    fn rest(&mut self) -> &str {
        while let Ok(l) = self.rx.recv_timeout(Duration::from_secs(5)) {
            self.log.push_str(&l);
            self.log.push('\n');
        }
        &self.log
    }
}

/// Wait for the child to exit (killed and failed after the deadline).
fn exit_code(child: &mut Child, what: &str) -> i32 {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            use std::os::unix::process::ExitStatusExt;
            return s
                .code()
                .unwrap_or_else(|| panic!("{what}: killed by signal {:?}", s.signal()));
        }
        if t0.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn split_stdin(out: &str, extra: &[&str]) -> Child {
    mmkit()
        .args(["split", "-", "-o", out])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmkit")
}

/// A 2 MiB seed recording in `t`: its path and bytes.
fn recording(t: &TempDir) -> (String, Vec<u8>) {
    let f = t.s("rec.dat");
    run_ok(&["gen", &f, "--size", "2M"]);
    let data = std::fs::read(&f).unwrap();
    (f, data)
}

/// `kill -USR1` prints the pieces, records and bytes so far on stderr and
/// the split carries on (as tcpdump does); the pieces still join to the
/// stream.
#[test]
fn usr1_prints_the_counts_and_the_split_carries_on() {
    let t = TempDir::new("usr1");
    let (_, data) = recording(&t);
    let out = t.s("out");
    let mut child = split_stdin(&out, &["--size", "500K", "--no-sync"]);
    let mut lines = Lines::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let feed = data.clone();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&feed).unwrap();
        stdin // kept open: the stream goes on
    });
    // The output directory is created once the handlers are in place.
    lines.wait_for("created the output directory", || {});
    let want = format!("{} bytes", data.len());
    let line = lines.wait_for(&want, || common::signal(&child, libc::SIGUSR1));
    let b = seed_bounds(&data);
    assert_eq!(
        line,
        format!(
            "mmkit: stdin: 5 pieces, {} records, {} bytes",
            b.len() - 1,
            data.len()
        )
    );
    let stdin = writer.join().unwrap();
    drop(stdin);
    assert_eq!(exit_code(&mut child, "usr1"), 0, "{}", lines.rest());
    let ps = pieces_ext(Path::new(&out), ".dat");
    assert_eq!(ps.len(), 5, "{ps:?}");
    assert!(join_bytes(&t, &ps) == data, "the pieces join to the stream");
}

/// SIGUSR1 while a FIFO waits for its writer: the counts (none yet) and
/// that it waits; then the writer comes and the split goes on.
#[test]
fn usr1_while_the_fifo_waits_for_its_writer() {
    let t = TempDir::new("usr1-fifo");
    let (_, data) = recording(&t);
    let ff = t.join("ff");
    mkfifo(&ff);
    let out = t.s("out");
    let mut child = mmkit()
        .args(["split", &ff.to_string_lossy(), "-o", &out, "--no-sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("waiting for a writer to open the FIFO", || {});
    let line = lines.wait_for("0 pieces", || common::signal(&child, libc::SIGUSR1));
    assert!(
        line.ends_with("ff: waiting for a writer to open the FIFO; 0 pieces, 0 records, 0 bytes"),
        "{line}"
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&ff)
        .unwrap()
        .write_all(&data)
        .unwrap();
    assert_eq!(exit_code(&mut child, "fifo"), 0, "{}", lines.rest());
    let ps = pieces_ext(Path::new(&out), ".dat");
    assert!(join_bytes(&t, &ps) == data, "the pieces join to the stream");
}

/// The binary under test as a shell command line (with the test runner,
/// if any).
fn shell_mmkit() -> String {
    let exe = env!("CARGO_BIN_EXE_mmkit");
    match std::env::var("MMKIT_TEST_RUNNER") {
        Ok(r) if !r.trim().is_empty() => format!("{r} {exe}"),
        _ => exe.to_string(),
    }
}

/// On a terminal (a pty from util-linux `script`) the counts are drawn in
/// place with `\r` and cleared at the end; with stderr a pipe, never.
#[test]
fn a_status_line_only_on_a_terminal() {
    let t = TempDir::new("tty");
    let (f, data) = recording(&t);
    let b = seed_bounds(&data);
    if !common::have_tool("script") {
        eprintln!("SKIP: script (util-linux) is not installed");
        return;
    }
    let out = t.s("tty");
    let cmd = format!(
        "{} split - -o {out} --size 500K --no-sync < {f}",
        shell_mmkit()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{shown}");
    let draw = shown
        .rfind("\rstdin: ")
        .unwrap_or_else(|| panic!("no status line: {shown:?}"));
    let line = &shown[draw + 1..];
    let end = line.find("\x1b[K").expect("the line ends with an erase");
    assert!(end <= 79, "{end} columns: {line:?}");
    assert!(
        line[..end].contains(" pieces, ") && line[..end].contains(" records, "),
        "{line:?}"
    );
    assert!(
        line[end..].starts_with("\x1b[K\r\x1b[K"),
        "cleared at the end: {line:?}"
    );
    assert!(
        shown.contains(&format!("split -: {} records", b.len() - 1)),
        "{shown:?}"
    );
    // Not a terminal: no status line.
    let o = mmkit()
        .args([
            "split",
            "-",
            "-o",
            &t.s("pipe"),
            "--size",
            "500K",
            "--no-sync",
        ])
        .stdin(std::fs::File::open(&f).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(!e.contains('\r') && !e.contains("\x1b["), "{e:?}");
}

/// The size of the temporary piece in `dir` (0: none yet).
fn tmp_len(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// `kill -PIPE` ends a stream split as SIGTERM does: exit 141, the last
/// piece keeps every whole record, no temporary.
#[test]
fn a_sigpipe_sent_with_kill_keeps_the_last_piece() {
    let t = TempDir::new("sigpipe");
    let (_, data) = recording(&t);
    let b = seed_bounds(&data);
    // Inside a record, past its header: these bytes are written through.
    let cut = b[700] + 12 + 5;
    let out = t.s("out");
    let mut child = split_stdin(&out, &["--size", "10M", "--no-sync"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..cut]).unwrap();
    let t0 = Instant::now();
    while tmp_len(Path::new(&out)) < cut as u64 {
        assert!(
            t0.elapsed() < DEADLINE,
            "the piece did not reach {cut} bytes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    common::signal(&child, libc::SIGPIPE);
    let code = exit_code(&mut child, "sigpipe");
    drop(stdin);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(code, 141, "{err}");
    let dir = Path::new(&out);
    common::assert_no_temporaries(dir, "sigpipe");
    let joined = join_bytes(&t, &pieces_ext(dir, ".dat"));
    assert!(joined[..] == data[..b[700]], "every whole record is kept");
}

/// A file split takes `kill -PIPE` as every terminating signal: exit 141,
/// the unfinished piece removed.
#[test]
fn a_sigpipe_sent_with_kill_ends_a_file_split_with_cleanup() {
    let t = TempDir::new("sigpipe-file");
    let (f, _) = recording(&t);
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut cmd = mmkit();
    cmd.args(["split", &f, "-o", &out.to_string_lossy(), "--size", "500K"]);
    let (mut child, log) = common::spawn_paused(&mut cmd, 20_000);
    common::signal(&child, libc::SIGPIPE);
    let code = exit_code(&mut child, "file split");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(code, 141, "{log}{err}");
    assert!(err.contains("interrupted by SIGPIPE"), "{err}");
    common::assert_no_temporaries(&out, "file split");
}

/// A write to a closed stdout (`mmkit md … | head -c1`) ends quietly, with
/// exit 0: the kernel's SIGPIPE for it does not end mmkit.
#[test]
fn a_closed_stdout_still_ends_quietly() {
    let t = TempDir::new("epipe");
    let (f, _) = recording(&t);
    let mut child = mmkit()
        .args(["md", "--file", &f, "0+2M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut head = Command::new("head")
        .arg("-c1")
        .stdin(child.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let code = exit_code(&mut child, "md | head");
    assert!(head.wait().unwrap().success());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("interrupted"), "{err}");
}

/// Run to the end within the deadline (None: it had to be killed).
fn within(cmd: &mut Command) -> Option<std::process::Output> {
    common::output_within(cmd, DEADLINE.as_secs())
}

/// `--follow` on a pipe, a FIFO or a character device is refused (exit 2),
/// saying to read a pipe as a stream with `-`.
#[test]
fn follow_refuses_what_is_not_a_regular_file() {
    let t = TempDir::new("follow-kind");
    let (_, data) = recording(&t);
    let out = t.s("out");
    let hint = "`mmkit split - …` for standard input";
    // 2 MB piped in.
    let mut child = split_stdin(&out, &["--follow"]);
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let code = exit_code(&mut child, "pipe");
    feed.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("standard input is a pipe (FIFO)") && err.contains(hint),
        "{err}"
    );
    // /dev/null as standard input and by name, and a FIFO by name (no
    // writer: it must not wait for one).
    let ff = t.join("ff");
    mkfifo(&ff);
    let ffs = ff.to_string_lossy().into_owned();
    let cases = [
        (
            "-",
            Some("/dev/null"),
            "standard input is a character device",
        ),
        ("/dev/null", None, "/dev/null is a character device"),
        (ffs.as_str(), None, "ff is a pipe (FIFO)"),
    ];
    for (input, stdin, msg) in cases {
        let mut cmd = mmkit();
        cmd.args(["split", input, "--follow", "-o", &out]);
        if let Some(p) = stdin {
            cmd.stdin(std::fs::File::open(p).unwrap());
        }
        let o = within(&mut cmd).unwrap_or_else(|| panic!("{input} --follow did not end"));
        common::fails(&o, 2, msg);
        common::fails(&o, 2, hint);
    }
    assert!(!Path::new(&out).exists(), "nothing was written");
}

/// The FIFO message is printed for a FIFO only, not for /dev/zero.
#[test]
fn the_fifo_message_only_for_a_fifo() {
    let t = TempDir::new("zero");
    let o = within(mmkit().args(["split", "/dev/zero", "-o", &t.s("out")]))
        .expect("a split of /dev/zero ends (bad magic)");
    assert!(
        !stderr(&o).contains("waiting for a writer"),
        "{}",
        stderr(&o)
    );
    assert!(o.status.code().is_some(), "{o:?}");
}

/// Stream pieces are named PREFIX.NNNNNN.EXT with EXT after the layout
/// (`.pcap`, `.pcapng`, `.dat`), not the input's name: a FIFO `cap.fifo`
/// gives `cap.000000.pcap`, a FIFO `feed` of seed records
/// `feed.000000.dat`, a followed `ng.log` of pcapng `ng.000000.pcapng`.
#[test]
fn stream_pieces_take_the_layout_extension() {
    let t = TempDir::new("ext");
    let pcap = t.s("x.pcap");
    run_ok(&["gen", &pcap, "--layout", "pcap", "--size", "300K"]);
    let (_, seed) = recording(&t);
    for (fifo, bytes, want) in [
        ("cap.fifo", std::fs::read(&pcap).unwrap(), "cap.000000.pcap"),
        ("feed", seed, "feed.000000.dat"),
    ] {
        let ff = t.join(fifo);
        mkfifo(&ff);
        let out = t.join(&format!("out-{fifo}"));
        let mut child = mmkit()
            .args(["split", &ff.to_string_lossy(), "-o", &out.to_string_lossy()])
            .args(["--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&ff)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        assert_eq!(exit_code(&mut child, fifo), 0);
        let names = common::names(&out);
        assert!(names.contains(&want.to_string()), "{fifo}: {names:?}");
        assert_eq!(std::fs::read(out.join(want)).unwrap(), bytes, "{fifo}");
        if want.ends_with(".pcap") && common::have_tool("tcpdump") {
            let r = Command::new("tcpdump")
                .args(["-nr", &out.join(want).to_string_lossy()])
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "tcpdump reads the piece: {}",
                stderr(&r)
            );
        }
    }
    let ng = t.s("ng.log");
    std::fs::copy(common::pcapng_fixture("isb"), &ng).unwrap();
    let out = t.join("out-ng");
    let o = within(mmkit().args([
        "split",
        &ng,
        "--follow",
        "--idle",
        "1",
        "-o",
        &out.to_string_lossy(),
    ]))
    .expect("--idle 1 ends");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names = common::names(&out);
    assert!(names.contains(&"ng.000000.pcapng".to_string()), "{names:?}");
}

/// A followed file renamed over (a recorder rotating its file) or removed:
/// what it still holds is read, then the split stops with exit 0 and says
/// so, without waiting for `--idle`.
#[test]
fn follow_stops_after_draining_a_replaced_or_removed_file() {
    let t = TempDir::new("rotate");
    let (_, data) = recording(&t);
    for how in ["replaced", "removed"] {
        let grow = t.s(&format!("{how}.dat"));
        let half = seed_bounds(&data)[500];
        std::fs::write(&grow, &data[..half]).unwrap();
        let out = t.s(&format!("out-{how}"));
        let mut child = mmkit()
            .args(["split", &grow, "--follow", "--idle", "600", "-o", &out])
            .args(["--size", "500K", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = Lines::of(&mut child);
        // It has the file open once the output directory is there.
        lines.wait_for("created the output directory", || {});
        // The recorder's last append, then the rotation.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&grow)
            .unwrap()
            .write_all(&data[half..])
            .unwrap();
        if how == "replaced" {
            let next = t.s("next.dat");
            std::fs::write(&next, &data[..136]).unwrap();
            std::fs::rename(&next, &grow).unwrap();
        } else {
            std::fs::remove_file(&grow).unwrap();
        }
        let line = lines.wait_for("stopped after draining it", || {});
        assert!(line.contains(&format!("{how}.dat was {how}")), "{line}");
        assert_eq!(exit_code(&mut child, how), 0, "{}", lines.rest());
        let ps = pieces_ext(Path::new(&out), ".dat");
        assert!(
            join_bytes(&t, &ps) == data,
            "{how}: every byte of the old file"
        );
    }
}
