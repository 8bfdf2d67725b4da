//! Helpers shared by the integration tests, which run the real binary.
//!
//! `MMKIT_TEST_RUNNER` (e.g. `qemu-mipsel-static`) prefixes every spawn of
//! the binary, so the same tests run under QEMU user-mode emulation when the
//! test binaries themselves run there (cross `cargo test` with a runner).
#![allow(dead_code)]

pub mod pcapng;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// A `Command` for the mmkit binary under test.
pub fn mmkit() -> Command {
    let exe = env!("CARGO_BIN_EXE_mmkit");
    match std::env::var("MMKIT_TEST_RUNNER") {
        Ok(r) if !r.trim().is_empty() => {
            let mut parts = r.split_whitespace();
            let mut c = Command::new(parts.next().unwrap_or("env"));
            c.args(parts);
            c.arg(exe);
            c
        }
        _ => Command::new(exe),
    }
}

/// Run mmkit with `args`; returns the output.
pub fn run(args: &[&str]) -> Output {
    mmkit().args(args).output().expect("spawn mmkit")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A 512-byte stand-in "register block" `regs.bin` in `t`: byte i holds
/// i % 256.
pub fn block(t: &TempDir) -> String {
    let p = t.s("regs.bin");
    let data: Vec<u8> = (0..512u32).map(|i| i as u8).collect();
    std::fs::write(&p, data).unwrap();
    p
}

/// The exit code (a death by signal fails the test).
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {o:?}"))
}

/// Assert exit 0; the stdout.
pub fn ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    stdout(o)
}

/// Run mmkit with `args`, assert it succeeds; the stdout.
pub fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "mmkit {args:?} failed: {}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Assert exit code `want` and `needle` in stderr.
pub fn fails(o: &Output, want: i32, needle: &str) {
    assert_eq!(
        code(o),
        want,
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(
        stderr(o).contains(needle),
        "stderr lacks {needle:?}:\n{}",
        stderr(o)
    );
}

/// What a w-byte read at `off` of the [`block`] shows, in CPU byte order.
pub fn native(off: usize, w: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate().take(w) {
        *x = (off + i) as u8;
    }
    match w {
        1 => b[0] as u64,
        2 => u16::from_ne_bytes([b[0], b[1]]) as u64,
        4 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as u64,
        _ => u64::from_ne_bytes(b),
    }
}

/// The file names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// Set a resource limit in the child before it runs; with `drop_root`, a
/// root child also becomes `nobody` (root may exceed some limits).
pub fn rlimit(cmd: &mut Command, resource: i32, value: u64, drop_root: bool) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and setuid are async-signal-safe and only affect
    // the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            if libc::setrlimit(resource as _, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if drop_root && libc::geteuid() == 0 && libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let base = std::env::var_os("MMKIT_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let d = base.join(format!(
            "mmkit-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    /// The path as &str (temp paths are ASCII here).
    pub fn s(&self, p: &str) -> String {
        self.0.join(p).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small tmpfs mounted on a fresh directory, unmounted on drop (root
/// only: tests that use it are `#[ignore = "needs root"]`).
pub struct Tmpfs(pub TempDir);

impl Tmpfs {
    /// Mount a tmpfs of `size` (mount's syntax: "64k", "3m").
    pub fn mount(tag: &str, size: &str) -> Tmpfs {
        let d = TempDir::new(tag);
        let m = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .output()
            .expect("run mount");
        assert!(
            m.status.success(),
            "cannot mount a tmpfs: {}",
            String::from_utf8_lossy(&m.stderr)
        );
        Tmpfs(d)
    }

    /// Fill the filesystem up: write a file until ENOSPC.
    pub fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.0.join("filler")).expect("create filler");
        let chunk = [0xA5u8; 4096];
        loop {
            if let Err(e) = f.write_all(&chunk) {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "filling: {e}");
                return;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Run `cmd` to completion, but kill it after `secs` seconds (a hang is a
/// test failure, not a stuck CI job). Returns None when it had to be killed.
pub fn output_within(cmd: &mut Command, secs: u64) -> Option<Output> {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed().as_secs() >= secs {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(child.wait_with_output().expect("output"))
}

/// Spawn mmkit with `args`, its standard input, output and error piped.
pub fn spawn_piped<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Child {
    mmkit()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mmkit")
}

/// Make a FIFO at `p`.
pub fn mkfifo(p: &Path) {
    nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
}

/// Spawn `cmd` (a split) with the test-only pause before it writes piece 1
/// (`MMKIT_DEBUG_PAUSE_MS`), and return once it is paused there, with what
/// it printed on stderr so far (its stderr stays readable in the child).
pub fn spawn_paused(cmd: &mut Command, pause_ms: u32) -> (Child, String) {
    use std::io::BufRead;
    cmd.env("MMKIT_DEBUG_PAUSE_MS", pause_ms.to_string())
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = cmd.spawn().expect("spawn mmkit");
    let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut log = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).expect("read stderr") > 0,
            "split ended before its pause: {log}"
        );
        log.push_str(&line);
        if line.contains("debug pause before writing piece 1") {
            break;
        }
    }
    child.stderr = Some(err.into_inner());
    (child, log)
}

/// Under emulation (`MMKIT_TEST_RUNNER` set): tests sample instead of
/// trying every case, to keep the QEMU matrix's time in bounds.
pub fn emulated() -> bool {
    std::env::var_os("MMKIT_TEST_RUNNER").is_some_and(|r| !r.is_empty())
}

/// Is `name` a command on PATH?
pub fn have_tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Wireshark's peers (capinfos, tshark, editcap), unless MMKIT_SKIP_PEERS
/// is set (then the test is skipped); missing peers fail the test.
pub fn wireshark_peers() -> bool {
    if std::env::var_os("MMKIT_SKIP_PEERS").is_some() {
        eprintln!("SKIP: MMKIT_SKIP_PEERS is set");
        return false;
    }
    assert!(
        have_tool("capinfos") && have_tool("tshark") && have_tool("editcap"),
        "install the peers: apt-get install -y tshark"
    );
    true
}

/// A pcapng fixture of tests/pcapng/fixtures (made by make-fixtures.sh).
pub fn pcapng_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/pcapng/fixtures/{name}.pcapng"))
}

/// A recorder: appends `data` to the file `path` through one open file, in
/// bursts of `burst` bytes (cutting records anywhere), `pause_ms` before
/// each, then closes it.
pub fn append_in_bursts(path: impl AsRef<Path>, data: &[u8], burst: usize, pause_ms: u64) {
    use std::io::Write;
    let mut w = std::fs::OpenOptions::new()
        .append(true)
        .open(path.as_ref())
        .expect("open the growing file");
    for c in data.chunks(burst) {
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
        w.write_all(c).expect("append a burst");
    }
}

/// Finished pieces in `dir` with extension `ext`, in name (= time) order.
pub fn pieces_ext(dir: &Path, ext: &str) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(ext))
        .map(|n| dir.join(n).to_string_lossy().into_owned())
        .collect()
}

/// `mmkit join` of `ps` into `t`'s `joined`; its bytes.
pub fn join_bytes(t: &TempDir, ps: &[String]) -> Vec<u8> {
    let j = t.s("joined");
    let mut a = vec!["join"];
    a.extend(ps.iter().map(String::as_str));
    a.extend(["-o", &j, "-f", "--no-sync"]);
    run_ok(&a);
    std::fs::read(&j).unwrap()
}

/// Record boundaries of a generated seed file: after the 136-byte file
/// header and after each record (12-byte header, payload length LE at 8).
pub fn seed_bounds(d: &[u8]) -> Vec<usize> {
    let mut v = vec![136];
    let mut at = 136;
    while at + 12 <= d.len() {
        at += 12 + u32::from_le_bytes(d[at + 8..at + 12].try_into().unwrap()) as usize;
        v.push(at);
    }
    v
}

/// Send `sig` to our own child (not yet reaped).
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// No temporary is left in `dir` (`what` names the case).
pub fn assert_no_temporaries(dir: &Path, what: &str) {
    assert!(
        !names(dir).iter().any(|n| n.ends_with(".tmp")),
        "{what}: {:?}",
        names(dir)
    );
}
