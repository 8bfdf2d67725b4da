//! README's "On-device cookbook" runs as written (issue 12).
//!
//! The test reads README.md at test time, takes the commands of the ```sh
//! blocks of the "## On-device cookbook" section (lines ending in `\`
//! joined, whole-line and trailing `  # ...` comments dropped) and runs each
//! through `sh -c` exactly as written, except for the substitutions of
//! [`SUBST`] (the router's paths, its live interface and the one-minute
//! wait). `mmkit` is found on PATH: a directory holding a wrapper that runs
//! the binary under test. Every substitution must be used at least once and
//! every check of [`CHECKS`] must meet its command, so a README edit that
//! breaks a command, or drops one a check is about, fails here.
//!
//! Real peers: tcpdump reads the generated capture (`-r` instead of the live
//! `-i br-lan`), editcap writes the pcapng stream dumpcap would, gzip runs
//! from `--exec`, capinfos reads the pcapng pieces. The register lines run
//! on a sparse file standing in for /dev/mem (the `MMKIT_DEVMEM` test hook).

mod common;

use common::{TempDir, names};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines that need the router itself, with the reason they are skipped.
const SKIP: &[(&str, &str)] = &[
    ("apk add", "installs the package on the router (apk)"),
    ("opkg install", "installs the package on the router (opkg)"),
];

/// What the router has and the host does not: (as in README, replacement).
/// Placeholders in the replacement: CAP (the generated capture), USB (the
/// temp dir standing in for the stick), DATA (the temp data dir).
const SUBST: &[(&str, &str)] = &[
    // The live interface is the only change: tcpdump reads the capture.
    ("tcpdump -i br-lan -U -w -", "tcpdump -r CAP -U -w -"),
    // dumpcap's pcapng stream: editcap writes the same capture as pcapng.
    ("dumpcap -i br-lan -w -", "editcap -F pcapng CAP -"),
    // Only the wait changes: the recorder file is not growing.
    ("--idle 60", "--idle 1"),
    ("/tmp/capture.pcap", "CAP"),
    ("/mnt/usb", "USB"),
    ("/data/", "DATA/"),
];

/// Size of the generated capture: 10MB pieces give 3 of them; the 100MB
/// file split gives one piece (a capture over 100 MB would cost every
/// pipeline a hundred MB of I/O on a shared machine).
const CAP_SIZE: &str = "24M";
/// The physical addresses the register lines touch must lie in the file.
const DEVMEM_SIZE: u64 = 0x1804_2000;

/// The ```sh commands of README's cookbook section.
fn cookbook_commands(readme: &str) -> Vec<String> {
    let start = readme
        .find("\n## On-device cookbook\n")
        .expect("README has an \"## On-device cookbook\" section");
    let body = &readme[start + 1..];
    let body = &body[body.find('\n').unwrap() + 1..];
    let body = match body.find("\n## ") {
        Some(end) => &body[..end],
        None => body,
    };
    let mut cmds = Vec::new();
    let mut in_sh = false;
    let mut cur = String::new();
    for line in body.lines() {
        let t = line.trim();
        if !in_sh {
            in_sh = t == "```sh";
            continue;
        }
        if t == "```" {
            assert!(cur.is_empty(), "a sh block ends in a continuation: {cur}");
            in_sh = false;
            continue;
        }
        let code = strip_comment(line);
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        if let Some(head) = code.strip_suffix('\\') {
            cur.push_str(head.trim_end());
            cur.push(' ');
        } else {
            cur.push_str(code);
            cmds.push(std::mem::take(&mut cur));
        }
    }
    assert!(!in_sh, "unterminated ```sh block in the cookbook");
    cmds
}

/// `line` without a comment: `#` at the start or after blanks, outside
/// quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev_blank => return &line[..i],
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    line
}

/// One pass over `cmd`: each [`SUBST`] pattern replaced where it occurs
/// (replacements are not searched again); counts the uses. Also what is
/// left of README's text (each replacement a NUL).
fn substitute(cmd: &str, env: &Env, used: &mut [usize]) -> (String, String) {
    let mut out = String::new();
    let mut left = String::new();
    let mut rest = cmd;
    'scan: while !rest.is_empty() {
        for (i, (from, to)) in SUBST.iter().enumerate() {
            if let Some(r) = rest.strip_prefix(from) {
                out.push_str(&env.expand(to));
                left.push('\0');
                used[i] += 1;
                rest = r;
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        left.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (out, left)
}

struct Env {
    _t: TempDir,
    cap: PathBuf,
    usb: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    devmem: PathBuf,
    /// What `tcpdump -r CAP -U -w -` writes: the stream the pieces join to.
    stream: Vec<u8>,
    /// rec-0042.dat as generated.
    rec: Vec<u8>,
}

impl Env {
    fn s(p: &Path) -> String {
        p.to_str().expect("ASCII temp path").to_string()
    }
    fn expand(&self, to: &str) -> String {
        match to {
            "CAP" => Env::s(&self.cap),
            "USB" => Env::s(&self.usb),
            "DATA/" => format!("{}/", Env::s(&self.data)),
            _ => to.replace("CAP", &Env::s(&self.cap)),
        }
    }
    fn usb(&self, name: &str) -> PathBuf {
        self.usb.join(name)
    }
    /// The pieces in USB whose names start with `prefix.` and end in `ext`.
    fn pieces(&self, prefix: &str, ext: &str) -> Vec<String> {
        names(&self.usb)
            .into_iter()
            .filter(|n| n.starts_with(&format!("{prefix}.")) && n.ends_with(ext))
            .collect()
    }
}

fn mmkit_gen(args: &[&str]) {
    let o = common::run(&[&["gen"], args].concat());
    common::ok(&o);
}

fn setup() -> Env {
    let t = TempDir::new("cookbook");
    let (usb, data, bin) = (t.join("usb"), t.join("data"), t.join("bin"));
    for d in [&usb, &data, &bin] {
        std::fs::create_dir(d).unwrap();
    }
    mmkit_on_path(&bin);

    let cap = t.join("capture.pcap");
    let capture = Env::s(&cap);
    mmkit_gen(&[&capture, "--layout", "pcap", "--size", CAP_SIZE]);
    let rec = data.join("rec-0042.dat");
    mmkit_gen(&[&Env::s(&rec), "--size", "3M"]);
    // odd.dat: the seed layout big-endian with a 137-byte file header.
    let odd = Env::s(&data.join("odd.dat"));
    mmkit_gen(&[
        &odd,
        "--size",
        "1M",
        "--endian",
        "be",
        "--header-len",
        "137",
    ]);
    // A sparse stand-in for /dev/mem, covering the GPIO block's addresses.
    let devmem = t.join("devmem");
    std::fs::File::create(&devmem)
        .unwrap()
        .set_len(DEVMEM_SIZE)
        .unwrap();

    let o = Command::new("tcpdump")
        .args(["-r", &capture, "-U", "-w", "-"])
        .output()
        .expect("run tcpdump");
    assert!(o.status.success(), "{}", common::stderr(&o));
    let rec_bytes = std::fs::read(&rec).unwrap();
    Env {
        _t: t,
        cap,
        usb,
        data,
        bin,
        devmem,
        stream: o.stdout,
        rec: rec_bytes,
    }
}

/// A check tied to the commands that contain `needle` (README's text):
/// `before` prepares what the command expects, `after` checks what its
/// comment promises.
struct Check {
    needle: &'static str,
    before: fn(&Env),
    after: fn(&Env, &std::process::Output),
}

fn nothing(_: &Env) {}

/// A check with nothing to prepare.
const fn after(needle: &'static str, after: fn(&Env, &std::process::Output)) -> Check {
    Check {
        needle,
        before: nothing,
        after,
    }
}

/// The pcap record boundaries of `b` (24-byte file header, incl_len at
/// offset 8 of each 16-byte record header, little-endian as gen writes it).
fn pcap_ends(b: &[u8]) -> Vec<usize> {
    let mut v = vec![24];
    let mut at = 24;
    while at + 16 <= b.len() {
        let n = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + n;
        if at > b.len() {
            break;
        }
        v.push(at);
    }
    v
}

/// `src` cut 7 bytes into its last record, written to `dst`; the length
/// of its longest whole-record prefix.
fn torn_pcap(src: &Path, dst: &Path) -> usize {
    let b = std::fs::read(src).unwrap();
    let ends = pcap_ends(&b);
    let last = ends[ends.len() - 2];
    assert!(ends.len() > 2 && last + 7 < b.len());
    std::fs::write(dst, &b[..last + 7]).unwrap();
    last
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// capinfos reads `p`: its packet count.
fn capinfos_ok(p: &Path) -> u64 {
    let mut c = Command::new("capinfos");
    let out = common::ok(&c.args(["-c", "-M", "-T", "-r"]).arg(p).output().unwrap());
    let n = out.split_whitespace().last().and_then(|c| c.parse().ok());
    n.unwrap_or_else(|| panic!("capinfos {}: {out}", p.display()))
}

fn gunzip(p: &Path) -> Vec<u8> {
    let o = Command::new("gzip")
        .arg("-dc")
        .arg(p)
        .output()
        .expect("run gzip");
    assert!(o.status.success(), "gzip -dc {}", p.display());
    o.stdout
}

const CHECKS: &[Check] = &[
    after(
        "split /tmp/capture.pcap -o /mnt/usb --size 100MB",
        |e, _| {
            let p = e.pieces("capture", ".pcap");
            assert!(!p.is_empty(), "no pieces: {:?}", names(&e.usb));
            for n in &p {
                assert!(read(&e.usb(n)).len() <= 100_000_000, "{n} over 100MB");
            }
            assert!(e.usb("capture.manifest").exists(), "no manifest");
        },
    ),
    after(
        "check /mnt/usb/capture.*.pcap",
        // exit 0 when every piece is clean: checked by the caller
        |_, _| {},
    ),
    after(
        "join /mnt/usb/capture.*.pcap -o /mnt/usb/whole.pcap",
        |e, _| {
            assert!(
                read(&e.usb("whole.pcap")) == read(&e.cap),
                "whole.pcap differs from the capture"
            );
        },
    ),
    after("--ring 50 --prefix lan --exec 'gzip -9'", |e, _| {
        // lan.000000.pcap, lan.000001.pcap, ... each gzipped once
        // complete; joined (after gunzip) they are the stream.
        let p = e.pieces("lan", ".pcap.gz");
        assert!(p.len() >= 2, "want ≥ 2 pieces: {:?}", names(&e.usb));
        assert!(e.pieces("lan", ".pcap").is_empty(), "a piece not gzipped");
        let mut all = Vec::new();
        for (i, n) in p.iter().enumerate() {
            assert_eq!(n, &format!("lan.{i:06}.pcap.gz"));
            let b = gunzip(&e.usb(n));
            assert!(b.len() <= 10_000_000, "{n}: {} bytes", b.len());
            all.extend_from_slice(if i == 0 { &b } else { &b[24..] });
        }
        assert!(all == e.stream, "the lan pieces do not join to the stream");
    }),
    after("--seconds 3600 --prefix hourly", |e, _| {
        // Within the hour: one piece, the whole stream.
        assert_eq!(e.pieces("hourly", ".pcap"), ["hourly.000000.pcap"]);
        assert!(read(&e.usb("hourly.000000.pcap")) == e.stream);
    }),
    after("--ring 50 --prefix ng", |e, _| {
        let p = e.pieces("ng", ".pcapng");
        assert!(p.len() >= 2, "want ≥ 2 pieces: {:?}", names(&e.usb));
        let mut packets = 0;
        for (i, n) in p.iter().enumerate() {
            assert_eq!(n, &format!("ng.{i:06}.pcapng"));
            assert!(read(&e.usb(n)).len() <= 10_000_000, "{n} over 10MB");
            packets += capinfos_ok(&e.usb(n));
        }
        let want = pcap_ends(&read(&e.cap)).len() as u64 - 1;
        assert_eq!(packets, want, "the pcapng pieces hold every packet");
    }),
    after("split /data/rec-0042.dat --follow --idle 60", |e, _| {
        let p = e.pieces("rec-0042", ".dat");
        assert_eq!(p, ["rec-0042.000000.dat"], "{:?}", names(&e.usb));
        assert!(read(&e.usb(&p[0])) == e.rec, "the followed file differs");
    }),
    Check {
        needle: "recover /mnt/usb/capture.pcap -n",
        // The capture cut by the power loss: a torn copy of a piece.
        before: |e| {
            torn_pcap(&e.usb("capture.0000.pcap"), &e.usb("capture.pcap"));
        },
        after: |e, o| {
            assert!(!e.usb("capture.recovered.pcap").exists(), "-n wrote");
            assert!(!common::stdout(o).is_empty(), "-n reports");
        },
    },
    after("recover /mnt/usb/capture.pcap", |e, _| {
        let torn = read(&e.usb("capture.pcap"));
        let keep = *pcap_ends(&torn).last().unwrap();
        let got = read(&e.usb("capture.recovered.pcap"));
        assert!(got == torn[..keep], "not the longest whole-record prefix");
        capinfos_ok(&e.usb("capture.recovered.pcap"));
    }),
    Check {
        needle: "recover --in-place /data/rec-0042.dat",
        // The recorder's file cut in its last record: the first 20 bytes
        // of a record (12-byte header, 8 of its payload) appended.
        before: |e| {
            let mut b = e.rec.clone();
            b.extend_from_slice(&e.rec[136..156]);
            std::fs::write(e.data.join("rec-0042.dat"), b).unwrap();
        },
        after: |e, _| {
            assert!(read(&e.data.join("rec-0042.dat")) == e.rec, "not cut back");
        },
    },
    Check {
        needle: "recover /mnt/usb/.capture.0007.pcap.mmkit-812-7.tmp",
        // The stale temporary of a killed split: a torn piece, last
        // written long ago (so a live PID 812 started after it: stale).
        before: |e| {
            let tmp = e.usb(".capture.0007.pcap.mmkit-812-7.tmp");
            torn_pcap(&e.usb("capture.0000.pcap"), &tmp);
            let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
            std::fs::File::options()
                .write(true)
                .open(&tmp)
                .unwrap()
                .set_modified(old)
                .unwrap();
        },
        after: |e, _| {
            let torn = read(&e.usb(".capture.0007.pcap.mmkit-812-7.tmp"));
            let keep = *pcap_ends(&torn).last().unwrap();
            assert!(read(&e.usb("capture.0007.recovered.pcap")) == torn[..keep]);
        },
    },
    Check {
        needle: "recover /mnt/usb/ng.000012.pcapng",
        // A pcapng piece cut by the power loss: a copy of a piece, cut
        // 5 bytes before its end (inside its last block).
        before: |e| {
            let b = read(&e.usb("ng.000000.pcapng"));
            std::fs::write(e.usb("ng.000012.pcapng"), &b[..b.len() - 5]).unwrap();
        },
        after: |e, _| {
            let got = read(&e.usb("ng.000012.recovered.pcapng"));
            let torn = read(&e.usb("ng.000012.pcapng"));
            assert!(!got.is_empty() && torn.starts_with(&got));
            capinfos_ok(&e.usb("ng.000012.recovered.pcapng"));
        },
    },
    after("check /data/rec-0042.dat", |_, o| {
        assert!(!common::stdout(o).is_empty(), "check reports")
    }),
    after(
        "check --endian be --header-len 137 /data/odd.dat",
        |_, _| {},
    ),
    after("devmem 0x18040008", |_, o| {
        assert_eq!(common::stdout(o), "0x00000000\n")
    }),
    after("devmem 0x18040008:5:5=1", |e, o| {
        assert_eq!(devmem_word(e), 1 << 5, "bit 5 set");
        // One read, one write (MMKIT_REGS_TEST=trace counts them).
        assert_eq!(accesses(o), ["R 0x18040008 32", "W 0x18040008 32"]);
    }),
    after("devmem --verify 0x18040008:5:5=1", |e, o| {
        assert_eq!(devmem_word(e), 1 << 5, "bit 5 still set");
        // The same, then the read-back.
        let a = accesses(o);
        assert_eq!(a[..2], ["R 0x18040008 32", "W 0x18040008 32"]);
        assert_eq!(a.last().map(String::as_str), Some("R 0x18040008 32"));
    }),
    after("md 0x18040000+0x40", |_, o| {
        // The whole block: 0x40 bytes, 16 a line, bit 5 set at +8.
        let out = common::stdout(o);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[0].starts_with("18040000: 00000000 00000000 00000020"),
            "{out}"
        );
        assert!(lines[3].starts_with("18040030:"), "{out}");
    }),
];

/// The register accesses a command made (`mmkit-trace: R|W ADDR WIDTH`).
fn accesses(o: &std::process::Output) -> Vec<String> {
    common::stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix("mmkit-trace: "))
        .map(str::to_string)
        .collect()
}

/// The 32-bit word at 0x18040008 of the /dev/mem stand-in (CPU order).
fn devmem_word(e: &Env) -> u32 {
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 4];
    std::fs::File::open(&e.devmem)
        .unwrap()
        .read_exact_at(&mut b, 0x1804_0008)
        .unwrap();
    u32::from_ne_bytes(b)
}

/// The check of `cmd` (README's text): the longest needle it contains, so
/// "recover /mnt/usb/capture.pcap -n" is not taken for the one without -n.
fn check_of(cmd: &str) -> Option<usize> {
    let matches = |n: &str| {
        cmd.match_indices(n).any(|(i, _)| {
            let after = &cmd[i + n.len()..];
            after.is_empty() || after.starts_with(' ')
        })
    };
    (0..CHECKS.len())
        .filter(|&i| matches(CHECKS[i].needle))
        .max_by_key(|&i| CHECKS[i].needle.len())
}

#[test]
fn readme_cookbook_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let cmds = cookbook_commands(&readme);
    assert!(!cmds.is_empty(), "no commands in the cookbook");
    let e = setup();
    let path = format!(
        "{}:{}",
        Env::s(&e.bin),
        std::env::var("PATH").unwrap_or_default()
    );
    // Substitute first: a substitution that no longer matches must fail
    // here, not run a live capture on the host.
    let mut used = vec![0; SUBST.len()];
    let mut runs = Vec::new();
    for cmd in &cmds {
        if let Some((_, why)) = SKIP.iter().find(|(p, _)| cmd.starts_with(p)) {
            eprintln!("skipped ({why}): {cmd}");
            continue;
        }
        let (line, left) = substitute(cmd, &e, &mut used);
        for router in ["br-lan", "/mnt/", "/data/", "/tmp/", "--idle 60"] {
            assert!(
                !left.contains(router),
                "{router:?} left after the substitutions: {cmd}"
            );
        }
        runs.push((cmd, line));
    }
    for (i, (from, _)) in SUBST.iter().enumerate() {
        assert!(
            used[i] > 0,
            "substitution {from:?} no longer matches README"
        );
    }
    let skipped = cmds.len() - runs.len();
    let mut checked = vec![0; CHECKS.len()];
    for (cmd, line) in runs {
        let check = check_of(cmd);
        if let Some(i) = check {
            (CHECKS[i].before)(&e);
            checked[i] += 1;
        }
        eprintln!("$ {line}");
        // A command that hangs fails (exit 124) instead of hanging the test.
        // A pipeline's status is its last command's (dash has no pipefail):
        // a failing producer shows in the checks, which compare the pieces
        // with the whole stream.
        let o = Command::new("timeout")
            .args(["300", "sh", "-c", &line])
            .env("PATH", &path)
            .env("MMKIT_DEVMEM", &e.devmem)
            .env("MMKIT_REGS_TEST", "trace")
            .output()
            .expect("run sh");
        assert_eq!(
            o.status.code(),
            Some(0),
            "README: {cmd}\nran: {line}\nstdout: {}\nstderr: {}",
            common::stdout(&o),
            common::stderr(&o)
        );
        if let Some(i) = check {
            (CHECKS[i].after)(&e, &o);
        }
    }
    assert!(skipped >= 1, "the package install line is gone");
    for (i, (from, _)) in SUBST.iter().enumerate() {
        assert!(
            used[i] > 0,
            "substitution {from:?} no longer matches README"
        );
    }
    for (i, c) in CHECKS.iter().enumerate() {
        assert!(checked[i] > 0, "no README command contains {:?}", c.needle);
    }
}

#[test]
fn comments_and_continuations_are_parsed() {
    let md = "x\n## On-device cookbook\n```sh\n# whole\na 'b # c' \\\n  d   # e\nf#g\n```\n## Next\n```sh\nz\n```\n";
    assert_eq!(cookbook_commands(md), ["a 'b # c' d", "f#g"]);
}

/// The cookbook's ring commands (`--ring`), with a file producer instead of
/// the live interface and small pieces and ring, wrap the ring 20 times
/// and more: the command survives what its `--exec` does to each piece and
/// the ring keeps its bound.
#[test]
fn readme_ring_commands_survive_20_wraps() {
    const RING_SUBST: &[(&str, &str)] = &[
        ("tcpdump -i br-lan -U -w -", "tcpdump -r CAP -U -w -"),
        ("dumpcap -i br-lan -w -", "editcap -F pcapng CAP -"),
        ("/mnt/usb", "USB"),
        ("--size 10MB", "--size 20KB"),
        ("--ring 50", "--ring 2"),
    ];
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let cmds: Vec<String> = cookbook_commands(&readme)
        .into_iter()
        .filter(|c| c.contains("--ring"))
        .collect();
    assert!(cmds.len() >= 2, "{cmds:?}");
    let t = TempDir::new("cookbook-ring");
    let bin = t.join("bin");
    std::fs::create_dir(&bin).unwrap();
    mmkit_on_path(&bin);
    let cap = t.s("capture.pcap");
    mmkit_gen(&[&cap, "--layout", "pcap", "--size", "1M"]);
    for (i, cmd) in cmds.iter().enumerate() {
        let usb = t.join(&format!("usb{i}"));
        std::fs::create_dir(&usb).unwrap();
        let mut run = cmd.clone();
        for (from, to) in RING_SUBST {
            run = run.replace(
                from,
                &to.replace("CAP", &cap)
                    .replace("USB", &t.s(&format!("usb{i}"))),
            );
        }
        for from in ["--size 10MB", "--ring 50", "/mnt/usb"] {
            assert!(cmd.contains(from), "{cmd}: the substitutions expect {from}");
        }
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let o = Command::new("sh")
            .args(["-c", &run])
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(o.status.success(), "{run}: {}", common::stderr(&o));
        let files = names(&usb);
        let mut numbers: Vec<u64> = files
            .iter()
            .filter_map(|n| n.split('.').nth(1)?.parse().ok())
            .collect();
        numbers.dedup();
        assert_eq!(numbers.len(), 2, "{run}: {files:?}");
        assert!(
            numbers[1] >= 40,
            "{run}: 20 wraps of a ring of 2: {files:?}"
        );
        for f in files.iter().filter(|n| !n.ends_with(".manifest")) {
            let p = usb.join(f);
            let bytes = if f.ends_with(".gz") {
                gunzip(&p)
            } else {
                read(&p)
            };
            let plain = t.join("plain");
            std::fs::write(&plain, bytes).unwrap();
            let c = common::run(&["check", &Env::s(&plain)]);
            assert!(c.status.success(), "{run}: {f}: {}", common::stdout(&c));
        }
    }
}

/// `bin/mmkit`: the binary under test (under MMKIT_TEST_RUNNER when one is
/// set, as common::mmkit does), for commands run by `sh` with `bin` on PATH.
fn mmkit_on_path(bin: &std::path::Path) {
    let runner = std::env::var("MMKIT_TEST_RUNNER").unwrap_or_default();
    let wrapper = bin.join("mmkit");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {runner} '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_mmkit")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
}
