//! Registers by name (`reg`), `wait`, `where` and the busybox applet names,
//! run through the real binary against a regular file standing in for a
//! register block, a register map written by the test, and a fake device
//! tree. /dev/mem is never opened (MMKIT_DEVMEM points to a missing path).

mod common;

use common::{TempDir, fails, mmkit, ok, stdout};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const MAP: &str = r#"
# a stand-in UART at offset 0x1000 of the file
block uart0 0x1000 0x100 "test UART"
  reg DR 0x000 32
    field DATA 7:0
  reg FR 0x018 32 access=ro
    field TXFF 5
    field RXFE 4
  reg LCR_H 0x02C 32
    field WLEN 6:5
      enum bits5 0
      enum bits8 3
    field FEN 4
  reg ICR 0x044 32 access=wo reset=0x0
    field ALL 10:0
  reg MIS 0x040 32 access=rc
  reg ID[2] 0x80 16 access=ro stride=4
"#;

/// A 8 KiB stand-in file with known words at the UART registers, and the map.
struct Rig {
    t: TempDir,
    file: String,
    map: String,
}

fn rig(tag: &str) -> Rig {
    let t = TempDir::new(tag);
    let mut data = vec![0u8; 8192];
    let put = |d: &mut Vec<u8>, off: usize, v: u32| {
        d[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    };
    put(&mut data, 0x1000, 0xFFFF_FF00); // DR: DATA 0, other bits set
    put(&mut data, 0x1018, 0x0000_0090); // FR: TXFE(7) and RXFE(4)
    put(&mut data, 0x102C, 0x0000_0070); // LCR_H: WLEN 3, FEN 1
    put(&mut data, 0x1040, 0x0000_0001); // MIS
    // ID0 is a 16-bit register: its value in CPU order at 0x1080 (a u32
    // there would read as 0 on big-endian MIPS).
    data[0x1080..0x1082].copy_from_slice(&0x0011u16.to_ne_bytes());
    let file = t.s("regs.bin");
    std::fs::write(&file, data).unwrap();
    let map = t.s("test.regs");
    std::fs::write(&map, MAP).unwrap();
    Rig { t, file, map }
}

fn word(file: &str, off: usize) -> u32 {
    let b = std::fs::read(file).unwrap();
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = mmkit();
    c.args(args).env("MMKIT_DEVMEM", "/nonexistent/mem");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("spawn mmkit")
}

impl Rig {
    fn reg(&self, args: &[&str]) -> Output {
        let mut a = vec!["reg", "--map", &self.map, "--file", &self.file];
        a.extend_from_slice(args);
        run_env(&a, &[])
    }
}

#[test]
fn reg_reads_and_decodes_by_name() {
    let r = rig("reg-read");
    let out = ok(&r.reg(&["uart0.FR"]));
    assert_eq!(
        out,
        "uart0.FR 0x00001018 = 0x00000090\n  TXFF [5]     0x0\n  RXFE [4]     0x1\n"
    );
    assert_eq!(ok(&r.reg(&["UART0.fr.rxfe"])), "0x1\n");
    assert_eq!(ok(&r.reg(&["uart0.LCR_H.WLEN"])), "0x3\n");
    // enum names are shown when decoding
    assert!(ok(&r.reg(&["uart0.LCR_H"])).contains("WLEN [6:5]   0x3 bits8"));
    assert_eq!(
        ok(&r.reg(&["uart0.ID1"])),
        "uart0.ID1 0x00001084 = 0x0000\n"
    );
}

#[test]
fn reg_field_write_is_one_read_modify_write() {
    let r = rig("reg-rmw");
    let out = ok(&r.reg(&["uart0.DR.DATA=0x5A"]));
    assert_eq!(
        out,
        "uart0.DR 0x00001000: 0xFFFFFF00 -> 0xFFFFFF5A  DATA 0x00 -> 0x5A\n"
    );
    assert_eq!(word(&r.file, 0x1000), 0xFFFF_FF5A, "other bits kept");
    // an enum name as the value
    ok(&r.reg(&["uart0.LCR_H.WLEN=bits5"]));
    assert_eq!(word(&r.file, 0x102C), 0x10);
    // a whole register, read back
    ok(&r.reg(&["uart0.DR=0x12345678"]));
    assert_eq!(word(&r.file, 0x1000), 0x1234_5678);
    // write-only: starts from the reset value, no read
    ok(&r.reg(&["uart0.ICR.ALL=0x7FF"]));
    assert_eq!(word(&r.file, 0x1044), 0x7FF);
}

#[test]
fn reg_refuses_what_the_map_forbids() {
    let r = rig("reg-refuse");
    let before = std::fs::read(&r.file).unwrap();
    fails(&r.reg(&["uart0.DR.DATA=0x100"]), 2, "does not fit");
    fails(&r.reg(&["uart0.FR.TXFF=1"]), 2, "read-only");
    fails(&r.reg(&["uart0.FR=1"]), 2, "read-only");
    fails(&r.reg(&["uart0.ICR"]), 2, "write-only");
    fails(&r.reg(&["uart0.LCR_H.WLEN=bits9"]), 2, "bits5, bits8");
    fails(&r.reg(&["uart0.NOPE"]), 2, "DR, FR, LCR_H");
    fails(&r.reg(&["uart1.DR"]), 2, "no block 'uart1'");
    fails(&r.reg(&["uart0"]), 2, "is a block");
    assert_eq!(std::fs::read(&r.file).unwrap(), before, "nothing written");
    // a block past the end of the stand-in file is refused, not a SIGBUS
    let big = r.t.s("far.regs");
    std::fs::write(&big, "block far 0x100000 0x10\n reg R 0\n").unwrap();
    let o = run_env(&["reg", "--map", &big, "--file", &r.file, "far.R"], &[]);
    fails(&o, 2, "beyond the end of the file");
}

#[test]
fn reg_list_and_dump() {
    let r = rig("reg-list");
    let out = ok(&r.reg(&["list", "uart0.*"]));
    assert!(
        out.starts_with("uart0: test UART\nuart0.DR    0x00001000 32 rw\n    DATA     [7:0]\n"),
        "{out}"
    );
    assert!(
        out.contains("uart0.ICR   0x00001044 32 wo reset=0x00000000"),
        "{out}"
    );
    assert!(out.contains("(bits5=0, bits8=3)"), "{out}");
    // Two registers, after the line with their block's description.
    assert_eq!(ok(&r.reg(&["list", "*.ID?"])).lines().count(), 3);
    fails(&r.reg(&["list", "spi*"]), 2, "no register matches");
    let out = ok(&r.reg(&["dump", "uart0"]));
    assert!(out.contains("uart0.FR 0x00001018 = 0x00000090"), "{out}");
    assert!(
        out.contains("uart0.ICR 0x00001044 (write-only: not read)"),
        "{out}"
    );
    assert!(
        out.contains("uart0.MIS 0x00001040 (reading clears it"),
        "{out}"
    );
    assert!(out.contains("uart0.ID0 0x00001080 = 0x0011"), "{out}");
}

#[test]
fn map_errors_name_file_and_line() {
    let r = rig("reg-maperr");
    let bad = r.t.s("bad.regs");
    std::fs::write(&bad, "block a 0 0x100\n  reg R 0x0\n    field F 40\n").unwrap();
    let o = run_env(&["reg", "--map", &bad, "--file", &r.file, "a.R"], &[]);
    fails(
        &o,
        3,
        &format!("{bad}:3: field F [40:40] is outside the 32-bit register R"),
    );
}

#[test]
fn maps_are_found_by_env_and_by_board() {
    let r = rig("reg-find");
    let args = ["reg", "--file", &r.file, "uart0.FR.RXFE"];
    // $MMKIT_REGMAP
    assert_eq!(ok(&run_env(&args, &[("MMKIT_REGMAP", &r.map)])), "0x1\n");
    // a directory of maps, picked by the board's device-tree compatible
    let dir = r.t.join("etc-mmkit");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.regs"), format!("boards acme,box\n{MAP}")).unwrap();
    std::fs::write(
        dir.join("b.regs"),
        "boards other,board\nblock uart0 0 0x10\n",
    )
    .unwrap();
    let dt = r.t.join("dt");
    std::fs::create_dir_all(&dt).unwrap();
    std::fs::write(dt.join("compatible"), b"acme,box-v2\0acme,box\0").unwrap();
    let d = dir.to_string_lossy().into_owned();
    let dts = dt.to_string_lossy().into_owned();
    let empty = r.t.s("no-sysinfo");
    let env = [
        ("MMKIT_REGMAP_DIR", d.as_str()),
        ("MMKIT_DT_ROOT", dts.as_str()),
        ("MMKIT_SYSINFO", empty.as_str()),
    ];
    assert_eq!(ok(&run_env(&args, &env)), "0x1\n");
    // OpenWrt's /tmp/sysinfo/board_name picks the other map
    std::fs::remove_file(dt.join("compatible")).unwrap();
    let si = r.t.join("sysinfo");
    std::fs::create_dir_all(&si).unwrap();
    std::fs::write(si.join("board_name"), "other,board\n").unwrap();
    let sis = si.to_string_lossy().into_owned();
    let env2 = [
        ("MMKIT_REGMAP_DIR", d.as_str()),
        ("MMKIT_DT_ROOT", dts.as_str()),
        ("MMKIT_SYSINFO", sis.as_str()),
    ];
    fails(&run_env(&args, &env2), 2, "no register 'FR'");
    std::fs::write(si.join("board_name"), "nobody,knows\n").unwrap();
    fails(&run_env(&args, &env2), 2, "nobody,knows");
}

#[test]
fn wait_sees_a_bit_set_by_another_process_within_one_interval() {
    let r = rig("wait-set");
    let interval = Duration::from_millis(300);
    let mut w = mmkit()
        .args([
            "wait",
            "--map",
            &r.map,
            "--file",
            &r.file,
            "uart0.FR.TXFF=1",
        ])
        .args(["--timeout", "20s", "--interval", "300ms"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        w.try_wait().unwrap().is_none(),
        "wait ended before the bit was set"
    );
    // another process sets bit 5
    let o = run_env(&["devmem", "--file", &r.file, "0x1018:5=1"], &[]);
    ok(&o);
    let set = Instant::now();
    let status = loop {
        if let Some(s) = w.try_wait().unwrap() {
            break s;
        }
        assert!(
            set.elapsed() < Duration::from_secs(5),
            "wait did not see the bit"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let seen = set.elapsed();
    assert!(status.success(), "{status:?}");
    // one interval, plus process exit and scheduling on a loaded machine
    assert!(
        seen < interval + Duration::from_millis(250),
        "took {seen:?}"
    );
}

#[test]
fn wait_times_out_on_time() {
    let r = rig("wait-timeout");
    for cond in ["uart0.FR.TXFF=1", "0x1018:5=1", "uart0.LCR_H!=0x70"] {
        let t0 = Instant::now();
        let o = run_env(
            &[
                "wait",
                "--map",
                &r.map,
                "--file",
                &r.file,
                cond,
                "--timeout",
                "400ms",
            ],
            &[],
        );
        let took = t0.elapsed();
        fails(&o, 11, "timed out after");
        assert!(
            took >= Duration::from_millis(400),
            "{cond}: gave up after {took:?}"
        );
        assert!(took < Duration::from_millis(1500), "{cond}: took {took:?}");
    }
    // conditions that already hold return at once
    for cond in [
        "uart0.FR.RXFE=1",
        "0x1018=0x90",
        "0x1018:7:4!=0",
        "uart0.LCR_H.WLEN=bits8",
    ] {
        let o = run_env(&["wait", "--map", &r.map, "--file", &r.file, cond], &[]);
        assert_eq!(ok(&o), "", "{cond}");
    }
    let o = run_env(
        &["wait", "--file", &r.file, "0x1018=1", "--timeout", "5h"],
        &[],
    );
    fails(&o, 2, "bad duration");
    let o = run_env(&["wait", "--file", &r.file, "0x1018:3=2"], &[]);
    fails(&o, 2, "can never be read");
    let o = run_env(&["wait", "--file", &r.file, "0x1018"], &[]);
    fails(&o, 2, "bad condition");
}

fn cells(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|c| c.to_be_bytes()).collect()
}

#[test]
fn where_on_a_fake_device_tree() {
    let t = TempDir::new("where");
    let dt = t.join("dt");
    let node = |p: &str, props: &[(&str, Vec<u8>)]| {
        let d = dt.join(p);
        std::fs::create_dir_all(&d).unwrap();
        for (k, v) in props {
            std::fs::write(d.join(k), v).unwrap();
        }
    };
    node(
        "",
        &[
            ("#address-cells", cells(&[2])),
            ("#size-cells", cells(&[2])),
        ],
    );
    node(
        "pl011@9000000",
        &[
            ("reg", cells(&[0, 0x0900_0000, 0, 0x1000])),
            ("compatible", b"arm,pl011\0arm,primecell\0".to_vec()),
        ],
    );
    node(
        "bus@f0000000",
        &[
            ("#address-cells", cells(&[1])),
            ("#size-cells", cells(&[1])),
            ("ranges", cells(&[0x0, 0, 0xF000_0000, 0x10_0000])),
        ],
    );
    node(
        "bus@f0000000/rtc@2000",
        &[
            ("reg", cells(&[0x2000, 0x100])),
            ("compatible", b"acme,rtc\0".to_vec()),
        ],
    );
    let io = t.s("iomem");
    std::fs::write(
        &io,
        "09000000-09000fff : 9000000.pl011\n  09000000-09000fff : 9000000.pl011 uart-pl011\n",
    )
    .unwrap();
    let dts = dt.to_string_lossy().into_owned();
    let none = t.s("none.regs");
    let base = ["where", "--dt-root", &dts, "--iomem", &io, "--map", &none];
    let all = ok(&run_env(&base, &[]));
    assert!(
        all.contains("0x09000000 +0x1000   /pl011@9000000  arm,pl011 arm,primecell"),
        "{all}"
    );
    assert!(
        all.contains("0xF0002000 +0x100    /bus@f0000000/rtc@2000  acme,rtc"),
        "{all}"
    );
    assert!(
        all.contains("    09000000-09000fff : 9000000.pl011 uart-pl011"),
        "{all}"
    );
    let mut q = base.to_vec();
    q.push("0xF0002010");
    let out = ok(&run_env(&q, &[]));
    assert!(out.contains("/bus@f0000000/rtc@2000"), "{out}");
    assert!(out.contains("offset 0x10"), "{out}");
    q.pop();
    q.push("0x09000004");
    let out = ok(&run_env(&q, &[]));
    assert!(
        out.contains("claimed by '9000000.pl011 uart-pl011'"),
        "{out}"
    );
    q.pop();
    q.push("rtc");
    let out = ok(&run_env(&q, &[]));
    assert!(out.starts_with("device tree: 0xF0002000"), "{out}");
    // the roots from the environment
    let out = ok(&run_env(
        &["where", "acme", "--map", &none],
        &[("MMKIT_DT_ROOT", &dts), ("MMKIT_IOMEM", &io)],
    ));
    assert!(out.contains("acme,rtc"), "{out}");
    // a register map name
    let map = t.s("m.regs");
    std::fs::write(&map, "block uart0 0x09000000 0x1000\n reg FR 0x18\n").unwrap();
    let out = ok(&run_env(
        &[
            "where",
            "--dt-root",
            &dts,
            "--iomem",
            &io,
            "--map",
            &map,
            "uart0.FR",
        ],
        &[],
    ));
    assert!(out.starts_with("0x09000018:\n  device tree:"), "{out}");
    assert!(out.contains("register map: uart0.FR"), "{out}");
}

/// Run the binary through a symlink named `name`.
fn via_link(dir: &Path, name: &str, args: &[&str]) -> Output {
    let link = dir.join(name);
    let mut c = match std::env::var("MMKIT_TEST_RUNNER") {
        Ok(r) if !r.trim().is_empty() => {
            let mut p = r.split_whitespace();
            let mut c = Command::new(p.next().unwrap_or("env"));
            c.args(p).arg(&link);
            c
        }
        _ => Command::new(&link),
    };
    c.args(args).output().expect("spawn the link")
}

#[test]
fn busybox_applet_names() {
    let r = rig("applets");
    let bin = r.t.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("md"), "#!/bin/sh\necho not mmkit\n").unwrap();
    let o = run_env(&["--install-links", &bin.to_string_lossy()], &[]);
    let out = ok(&o);
    assert!(out.contains("kept"), "{out}");
    assert_eq!(
        std::fs::read_to_string(bin.join("md")).unwrap(),
        "#!/bin/sh\necho not mmkit\n"
    );
    assert!(std::fs::read_link(bin.join("devmem")).is_ok());
    assert!(std::fs::read_link(bin.join("mw")).is_ok());
    // devmem and mw links behave as `mmkit devmem` and `mmkit mw`
    assert_eq!(
        stdout(&via_link(&bin, "devmem", &["--file", &r.file, "0x1018"])),
        "0x00000090\n"
    );
    ok(&via_link(
        &bin,
        "mw",
        &["--file", &r.file, "0x1018", "0x91"],
    ));
    assert_eq!(word(&r.file, 0x1018), 0x91);
    // md through a fresh link
    std::fs::remove_file(bin.join("md")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_mmkit"), bin.join("md")).unwrap();
    let out = ok(&via_link(&bin, "md", &["--file", &r.file, "0x1018+4"]));
    assert_eq!(out, "00001018: 00000091                             ....\n");
    let o = run_env(&["--install-links", &r.t.s("missing")], &[]);
    fails(&o, 2, "not a directory");
}
