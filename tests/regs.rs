//! Register access (devmem, md, mw, bitfields) against regular files
//! standing in for register blocks. The build machine's real /dev/mem is
//! never touched: the physical-memory device is redirected with
//! MMKIT_DEVMEM to a missing path or a regular file.

mod common;

use common::{TempDir, block, code, fails, native, ok, run, stderr, stdout};

fn bytes_at(p: &str, off: usize, n: usize) -> Vec<u8> {
    std::fs::read(p).unwrap()[off..off + n].to_vec()
}

#[test]
fn reads_every_width_in_busybox_format() {
    let t = TempDir::new("regs-read");
    let f = block(&t);
    for (w, name, digits) in [
        (1, "8", 2),
        (2, "16", 4),
        (4, "32", 8),
        (8, "64", 16),
        (1, "b", 2),
        (2, "h", 4),
        (4, "w", 8),
        (1, "B", 2),
    ] {
        let out = ok(&run(&["devmem", "--file", &f, "0x40", name]));
        assert_eq!(
            out,
            format!("0x{:0digits$X}\n", native(0x40, w)),
            "width {name}"
        );
    }
    // Default width 32; upper-case hex with exactly 8 digits.
    let out = ok(&run(&["devmem", "--file", &f, "0x10"]));
    assert_eq!(out, format!("0x{:08X}\n", native(0x10, 4)));
    assert_eq!(out.len(), 11);
    // 'l' is C long, as in busybox.
    let lw = if cfg!(target_pointer_width = "64") {
        8
    } else {
        4
    };
    let out = ok(&run(&["devmem", "--file", &f, "0x40", "l"]));
    assert_eq!(out, format!("0x{:0w$X}\n", native(0x40, lw), w = lw * 2));
}

#[test]
fn numbers_parse_like_busybox() {
    let t = TempDir::new("regs-num");
    let f = block(&t);
    let want = format!("0x{:02X}\n", native(16, 1));
    assert_eq!(ok(&run(&["devmem", "--file", &f, "16", "8"])), want);
    assert_eq!(ok(&run(&["devmem", "--file", &f, "020", "8"])), want);
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x10", "8"])), want);
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0X10", "8"])), want);
    // Octal value 017 = 15.
    ok(&run(&["devmem", "--file", &f, "0x10", "8", "017"]));
    assert_eq!(bytes_at(&f, 0x10, 1), [15]);
    for bad in ["08", "0x", "+4", "1O", "0x10g", " 16"] {
        fails(&run(&["devmem", "--file", &f, bad]), 2, "bad number");
    }
    // A sign is never accepted (argh takes "-4" for an option).
    fails(&run(&["devmem", "--file", &f, "-4"]), 2, "-4");
    fails(&run(&["devmem", "--file", &f, "0x10", "32", "-1"]), 2, "-1");
}

#[test]
fn writes_every_width_print_nothing_and_land_in_cpu_order() {
    let t = TempDir::new("regs-write");
    let f = block(&t);
    for (w, name, v) in [
        (1usize, "8", 0xA5u64),
        (2, "16", 0xBEEF),
        (4, "32", 0xDEAD_BEEF),
        (8, "64", 0x0123_4567_89AB_CDEF),
    ] {
        let off = 0x80 + 8 * w;
        let o = run(&[
            "devmem",
            "--file",
            &f,
            &format!("0x{off:x}"),
            name,
            &format!("0x{v:X}"),
        ]);
        assert_eq!(ok(&o), "", "a write prints nothing");
        assert_eq!(stderr(&o), "");
        assert_eq!(
            bytes_at(&f, off, w),
            v.to_ne_bytes()[if cfg!(target_endian = "little") {
                0..w
            } else {
                8 - w..8
            }]
        );
        // Neighbours untouched.
        assert_eq!(bytes_at(&f, off + w, 1), [(off + w) as u8]);
        assert_eq!(bytes_at(&f, off - 1, 1), [(off - 1) as u8]);
        let back = ok(&run(&["devmem", "--file", &f, &format!("{off}"), name]));
        assert_eq!(back, format!("0x{v:0d$X}\n", d = 2 * w));
    }
}

#[test]
fn options_before_or_after_the_positionals() {
    let t = TempDir::new("regs-argorder");
    let f = block(&t);
    ok(&run(&["devmem", "--file", &f, "0x10", "w", "0x5"]));
    assert_eq!(ok(&run(&["devmem", "0x10", "--file", &f])), "0x00000005\n");
    ok(&run(&["devmem", "0x14", "32", "0x6", "--file", &f]));
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x14"])), "0x00000006\n");
    fails(
        &run(&["devmem", "--file", &f, "0x10", "32", "5", "6"]),
        2,
        "too many arguments",
    );
}

#[test]
fn rejections() {
    let t = TempDir::new("regs-reject");
    let f = block(&t);
    let before = std::fs::read(&f).unwrap();
    fails(
        &run(&["devmem", "--file", &f, "0x11"]),
        2,
        "not aligned to the 32-bit width",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x12", "64"]),
        2,
        "not aligned to the 64-bit width",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x11", "16", "1"]),
        2,
        "multiple of 2",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x10", "8", "0x100"]),
        2,
        "does not fit the 8-bit width",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x10", "16", "65536"]),
        2,
        "at most 0xFFFF",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x10", "32", "0x100000000"]),
        2,
        "busybox devmem would silently truncate",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x10", "12"]),
        2,
        "bad width",
    );
    fails(&run(&["devmem", "--file", &f, "0x10", "x"]), 2, "bad width");
    // Beyond the end of a regular file: refused before mapping.
    fails(
        &run(&["devmem", "--file", &f, "0x200"]),
        2,
        "beyond the end of the file (512 bytes)",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x1FE", "32"]),
        2,
        "not aligned",
    );
    assert_eq!(
        ok(&run(&["devmem", "--file", &f, "0x1FC"])),
        format!("0x{:08X}\n", native(0x1FC, 4)),
        "last word"
    );
    fails(
        &run(&["devmem", "--file", &f, "0x10000", "8", "1"]),
        2,
        "a mapped page past the end of a file raises a bus error",
    );
    fails(
        &run(&["devmem", "--file", &f, "0xFFFFFFFFFFFFFFF8", "64"]),
        2,
        "beyond the end",
    );
    // Missing file, directory, unmappable device.
    fails(&run(&["devmem", "--file", &t.s("nope"), "0"]), 1, "ENOENT");
    fails(
        &run(&["devmem", "--file", t.path().to_str().unwrap(), "0"]),
        2,
        "not a file or device node",
    );
    fails(
        &run(&["devmem", "--file", "/dev/null", "0"]),
        1,
        "cannot be memory-mapped",
    );
    assert_eq!(std::fs::read(&f).unwrap(), before, "no rejection may write");
}

#[test]
fn missing_dev_mem_is_explained() {
    let t = TempDir::new("regs-nodevmem");
    let o = common::mmkit()
        .env("MMKIT_DEVMEM", t.join("no-dev-mem"))
        .args(["devmem", "0x1F000208"])
        .output()
        .unwrap();
    fails(&o, 1, "CONFIG_DEVMEM");
    assert!(stderr(&o).contains("KERNEL_DEVMEM"), "{}", stderr(&o));
}

#[test]
fn physical_device_messages_say_physical() {
    let t = TempDir::new("regs-phys");
    let f = block(&t);
    let run_phys = |args: &[&str], hook: &str| {
        common::mmkit()
            .env("MMKIT_DEVMEM", &f)
            .env("MMKIT_REGS_TEST", hook)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(ok(&run_phys(&["devmem", "0x40", "8"], "")), "0x40\n");
    fails(
        &run_phys(&["devmem", "0x400"], ""),
        2,
        "physical 0x400 (+4 bytes) is beyond the end",
    );
    fails(
        &run_phys(&["devmem", "--verify", "0x40", "32", "1"], "drop-writes"),
        9,
        "read-back mismatch at physical 0x40",
    );
}

#[test]
fn bus_error_is_caught_and_explained() {
    // The test-only hook skips the end-of-file check, so the access hits a
    // page wholly past the end of the file: SIGBUS on every architecture.
    let t = TempDir::new("regs-sigbus");
    let f = block(&t);
    let cases: [(&str, Vec<&str>, &str); 3] = [
        (
            "",
            vec!["devmem", "--file", &f, "0x2000"],
            "bus error at offset 0x2000 of",
        ),
        (
            &f,
            vec!["devmem", "0x3000", "16"],
            "bus error at physical 0x3000: no device answered",
        ),
        (
            "",
            vec!["md", "--file", &f, "0x4000+0x20"],
            "bus error at offset 0x4000 of",
        ),
    ];
    for (devmem, args, want) in cases {
        let mut c = common::mmkit();
        c.env("MMKIT_REGS_TEST", "past-eof").args(&args);
        if !devmem.is_empty() {
            c.env("MMKIT_DEVMEM", devmem);
        }
        let o = c.output().unwrap();
        // qemu-user 7.2 reports the faulting address of a past-EOF page one
        // page too high (si_addr), so under a QEMU runner the handler cannot
        // attribute the fault; the real-kernel check is the QEMU system test.
        if o.status.code().is_none()
            && under_qemu()
            && stderr(&o).contains("outside any guarded mapping")
        {
            eprintln!("note: {args:?}: qemu-user misreports si_addr for SIGBUS; not checked here");
            continue;
        }
        fails(&o, 7, want);
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

fn under_qemu() -> bool {
    std::env::var("MMKIT_TEST_RUNNER").is_ok_and(|r| r.contains("qemu"))
}

#[test]
fn bitfields_read_and_read_modify_write() {
    let t = TempDir::new("regs-bits");
    let f = block(&t);
    ok(&run(&["devmem", "--file", &f, "0x20", "32", "0x12345678"]));
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x20:7:4"])), "0x7\n");
    assert_eq!(
        ok(&run(&["devmem", "--file", &f, "0x20:31:16"])),
        "0x1234\n"
    );
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x20:4"])), "0x1\n");
    assert_eq!(
        ok(&run(&["devmem", "--file", &f, "0x20:11:4", "16"])),
        // The 16 bits at the lower address: 0x5678 on little-endian CPUs,
        // 0x1234 on big-endian ones.
        if cfg!(target_endian = "little") {
            "0x67\n"
        } else {
            "0x23\n"
        }
    );
    // Old and new values; the read-back only with --verify.
    let out = ok(&run(&["devmem", "--file", &f, "0x20:7:4=3"]));
    assert_eq!(
        out,
        "old:       0x12345678 [7:4]=0x7\nnew:       0x12345638 [7:4]=0x3\n"
    );
    let out = ok(&run(&["devmem", "--verify", "--file", &f, "0x20:7:4=3"]));
    assert_eq!(
        out,
        "old:       0x12345638 [7:4]=0x3\nnew:       0x12345638 [7:4]=0x3\nread-back: 0x12345638 [7:4]=0x3\n"
    );
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x20"])), "0x12345638\n");
    // The VALUE argument works for a bitfield too.
    let out = ok(&run(&["devmem", "--file", &f, "0x20:31:28", "32", "0xA"]));
    assert!(
        out.starts_with("old:       0x12345638 [31:28]=0x1\nnew:       0xA2345638 [31:28]=0xA\n"),
        "{out}"
    );
    let out = ok(&run(&["devmem", "--no-readback", "--file", &f, "0x20:0=1"]));
    assert!(out.ends_with("new:       0xA2345639 [0:0]=0x1\n"), "{out}");
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x20"])), "0xA2345639\n");
    // Rejections.
    fails(
        &run(&["devmem", "--file", &f, "0x20:7:4=0x10"]),
        2,
        "does not fit the field [7:4]",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x20:4:7"]),
        2,
        "high bit first",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x20:8", "8"]),
        2,
        "outside a 8-bit register",
    );
    fails(
        &run(&["devmem", "--file", &f, "0x20:3:0=1", "32", "1"]),
        2,
        "not both",
    );
    assert_eq!(
        ok(&run(&["devmem", "--file", &f, "0x20"])),
        "0xA2345639\n",
        "rejections write nothing"
    );
}

#[test]
fn md_bytes_exact() {
    let t = TempDir::new("regs-md8");
    let f = block(&t);
    let out = ok(&run(&["md", "--file", &f, "-w", "8", "0x30+0x14"]));
    assert_eq!(
        out,
        "00000030: 30 31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f  0123456789:;<=>?\n\
         00000040: 40 41 42 43                                      @ABC\n"
    );
}

#[test]
fn md_words_and_ranges() {
    let t = TempDir::new("regs-md");
    let f = block(&t);
    let line = |a: usize, w: usize| {
        let per = 16 / w;
        let vals: Vec<String> = (0..per)
            .map(|i| format!("{:0d$x}", native(a + i * w, w), d = 2 * w))
            .collect();
        let ascii: String = (a..a + 16)
            .map(|b| {
                let c = b as u8;
                if (0x20..0x7f).contains(&c) {
                    c as char
                } else {
                    '.'
                }
            })
            .collect();
        format!("{a:08x}: {}  {ascii}\n", vals.join(" "))
    };
    // Default width 32 and default length 0x100 (16 lines).
    let out = ok(&run(&["md", "--file", &f, "0x40"]));
    assert_eq!(out.lines().count(), 16);
    assert!(out.starts_with(&line(0x40, 4)), "{out}");
    assert_eq!(
        ok(&run(&["md", "--file", &f, "0x40+0x20"])),
        line(0x40, 4) + &line(0x50, 4)
    );
    assert_eq!(
        ok(&run(&["md", "--file", &f, "-w", "16", "0x60-0x6f"])),
        line(0x60, 2)
    );
    assert_eq!(
        ok(&run(&["md", "--file", &f, "-w", "64", "0x70+16"])),
        line(0x70, 8)
    );
    assert_eq!(
        ok(&run(&["md", "-w", "h", "--file", &f, "0x60-0x6f"])),
        line(0x60, 2)
    );
    // K suffix; clamped at the end of the file, with a note.
    let o = run(&["md", "--file", &f, "0x1E0+1K"]);
    assert_eq!(ok(&o), line(0x1E0, 4) + &line(0x1F0, 4));
    assert!(
        stderr(&o).contains("showing 32 of the 1024 bytes"),
        "{}",
        stderr(&o)
    );
    // Rejections.
    fails(
        &run(&["md", "--file", &f, "0x200"]),
        2,
        "beyond the end of the file",
    );
    fails(&run(&["md", "--file", &f, "0x42"]), 2, "not aligned");
    fails(
        &run(&["md", "--file", &f, "0x40+6"]),
        2,
        "not a multiple of the 32-bit width",
    );
    fails(
        &run(&["md", "--file", &f, "0x40-0x30"]),
        2,
        "END is below ADDR",
    );
    fails(&run(&["md", "--file", &f, "0x40+0"]), 2, "length is zero");
    fails(
        &run(&["md", "--file", &f, "-w", "24", "0x40"]),
        2,
        "bad width",
    );
}

#[test]
fn md_on_a_device_node() {
    // /dev/zero is a mappable character device: no end-of-file check.
    let out = ok(&run(&["md", "--file", "/dev/zero", "0x100000+0x10"]));
    assert_eq!(
        out,
        "00100000: 00000000 00000000 00000000 00000000  ................\n"
    );
    assert_eq!(
        ok(&run(&["devmem", "--file", "/dev/zero", "0x1000", "64"])),
        "0x0000000000000000\n"
    );
}

#[test]
fn md_near_the_top_of_the_address_space_does_not_wrap() {
    // The 64 KiB display chunk once wrapped past 2^64 (a panic in debug
    // builds, a bogus error in release ones).
    let o = run(&["md", "--file", "/dev/zero", "0xFFFFFFFFFFFFFE00+0x100"]);
    let c = code(&o);
    assert!(c == 1 || c == 2, "exit {c}: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    assert!(stderr(&o).contains("0xFFFFFFFFFFFFF000"), "{}", stderr(&o));
}

#[test]
fn mw_writes_consecutive_values() {
    let t = TempDir::new("regs-mw");
    let f = block(&t);
    assert_eq!(
        ok(&run(&[
            "mw",
            "--file",
            &f,
            "0x100",
            "0x11223344",
            "0x55667788",
            "7"
        ])),
        ""
    );
    for (i, v) in [0x1122_3344u32, 0x5566_7788, 7].iter().enumerate() {
        assert_eq!(bytes_at(&f, 0x100 + 4 * i, 4), v.to_ne_bytes());
    }
    assert_eq!(bytes_at(&f, 0x10C, 1), [0x0C]);
    ok(&run(&[
        "mw", "-w", "16", "--file", &f, "0x110", "0xBEEF", "0xCAFE",
    ]));
    assert_eq!(
        bytes_at(&f, 0x110, 4),
        [0xBEEFu16.to_ne_bytes(), 0xCAFEu16.to_ne_bytes()].concat()
    );
    ok(&run(&[
        "mw", "-w", "8", "--file", &f, "0x120", "0x41", "0102", "67",
    ]));
    assert_eq!(bytes_at(&f, 0x120, 3), b"ABC");
    // Rejections write nothing.
    let before = std::fs::read(&f).unwrap();
    fails(
        &run(&["mw", "--file", &f, "0x1F8", "1", "2", "3"]),
        2,
        "beyond the end",
    );
    fails(
        &run(&["mw", "-w", "8", "--file", &f, "0x10", "1", "0x100"]),
        2,
        "does not fit the 8-bit width",
    );
    fails(
        &run(&["mw", "-w", "16", "--file", &f, "0x11", "1"]),
        2,
        "not aligned",
    );
    fails(&run(&["mw", "--file", &f, "0x10"]), 2, "at least one VALUE");
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

#[test]
fn two_processes_share_one_mapped_file() {
    let t = TempDir::new("regs-shared");
    let f = block(&t);
    // One process writes with mw, another reads it with devmem.
    ok(&run(&["mw", "--file", &f, "0x80", "0xCAFEF00D"]));
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x80"])), "0xCAFEF00D\n");
    // And a process that keeps the file mapped (this test) sees mmkit's
    // write at once, and mmkit sees the mapped store, without any read()
    // or write() on the file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&f)
        .unwrap();
    // SAFETY: the test owns the file; only mmkit child processes share it.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    let p = map.as_mut_ptr();
    ok(&run(&["mw", "--file", &f, "0x90", "0x600DD00D"]));
    // SAFETY: 0x90 is 4-aligned (page-aligned mapping) and inside the 512 bytes.
    let seen = unsafe { std::ptr::read_volatile(p.add(0x90) as *const u32) };
    assert_eq!(seen, 0x600D_D00D);
    // SAFETY: as above.
    unsafe { std::ptr::write_volatile(p.add(0x94) as *mut u32, 0x0BADCAFE) };
    assert_eq!(ok(&run(&["devmem", "--file", &f, "0x94"])), "0x0BADCAFE\n");
    let out = ok(&run(&["devmem", "--verify", "--file", &f, "0x94:7:0=0xEE"]));
    assert!(out.contains("read-back: 0x0BADCAEE"), "{out}");
    // SAFETY: as above.
    assert_eq!(
        unsafe { std::ptr::read_volatile(p.add(0x94) as *const u32) },
        0x0BAD_CAEE
    );
}

#[test]
fn help_explains_width_and_64_bit_access() {
    let out = ok(&run(&["devmem", "--help"]));
    assert!(
        out.contains("64-bit access is two 32-bit accesses"),
        "{out}"
    );
    assert!(out.contains("b, h, w, l"), "{out}");
    assert!(out.contains("--verify"), "{out}");
    assert!(out.contains("nothing is read"), "{out}");
    assert!(out.contains("deprecated, does nothing"), "{out}");
    let out = ok(&run(&["mw", "--help"]));
    assert!(out.contains("deprecated, does nothing"), "{out}");
}
