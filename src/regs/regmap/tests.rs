use super::*;
use crate::error::Kind;

const UART: &str = "\
# block NAME BASE SIZE / reg NAME OFFSET [WIDTH] / field NAME HI[:LO]
block uart0 0x09000000 0x1000
  reg DR 0x000 32
    field DATA 7:0
  reg FR 0x018 32
    field TXFF 5
    field RXFE 4
";

fn map(text: &str) -> RegisterMap {
    RegisterMap::from_text(text, Path::new("t.regs")).unwrap()
}

/// The error message for `text`, which must fail as malformed.
fn err(text: &str) -> String {
    let e = RegisterMap::from_text(text, Path::new("t.regs")).unwrap_err();
    assert_eq!(e.kind, Kind::Malformed, "{e}");
    e.into_msg()
}

#[test]
fn the_issue_example() {
    let m = map(UART);
    assert_eq!(m.blocks.len(), 1);
    let n = m.lookup("uart0.FR.TXFF").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x0900_0018);
    assert_eq!(n.field.unwrap().bits, Field { hi: 5, lo: 5 });
    let n = m.lookup("UART0.dr.data").unwrap();
    assert_eq!(n.field.unwrap().bits, Field { hi: 7, lo: 0 });
    assert_eq!(n.reg.unwrap().width, Width::W32);
    assert_eq!(n.reg.unwrap().access, Access::Rw);
}

#[test]
fn extensions() {
    let m = map(r#"
boards linux,dummy-virt   # ARM virt
block rtc 0x09010000 0x1000 "PL031 real-time clock"
  reg DR 0x0 access=ro "data: seconds"
  reg CR 0xC 32 reset=0x1
    field START 0 "RTC running" # comment after a description
      enum stopped 0
      enum running 1 "counting"
  reg ICR 0x1C access=wo
  reg RIS 0x14 8 access=rc
block gpio[2] 0x1000 0x100 stride=0x1000
  reg DATA[4] 0x10 32 stride=8
"#);
    assert_eq!(m.boards, vec!["linux,dummy-virt"]);
    let n = m.lookup("rtc.CR.START").unwrap();
    let f = n.field.unwrap();
    assert_eq!(f.enums.len(), 2);
    assert_eq!(f.enum_name(1), Some("running"));
    assert_eq!(f.value("RUNNING").unwrap(), 1);
    assert_eq!(f.value("0x0").unwrap(), 0);
    assert!(f.value("fast").is_err());
    assert_eq!(f.desc.as_deref(), Some("RTC running"));
    assert_eq!(n.reg.unwrap().reset, Some(1));
    assert_eq!(m.lookup("rtc.DR").unwrap().reg.unwrap().access, Access::Ro);
    assert_eq!(
        m.lookup("rtc").unwrap().block.desc.as_deref(),
        Some("PL031 real-time clock")
    );
    assert_eq!(m.lookup("rtc.RIS").unwrap().reg.unwrap().width, Width::W8);
    let g1 = m.lookup("gpio1.DATA3").unwrap();
    assert_eq!(g1.block.addr(g1.reg.unwrap()), 0x2000 + 0x10 + 3 * 8);
    assert!(m.lookup("gpio2").is_err());
    assert!(m.lookup("gpio0.DATA4").is_err());
    let names: Vec<String> = m
        .matching(Some("gpio*.DATA?"))
        .iter()
        .map(|(b, r)| format!("{}.{}", b.name, r.name))
        .collect();
    assert_eq!(names.len(), 8);
    assert_eq!(names[0], "gpio0.DATA0");
    assert_eq!(m.matching(Some("rtc")).len(), 4);
    assert_eq!(m.matching(Some("rtc.*")).len(), 4);
    assert_eq!(m.matching(None).len(), 12);
}

#[test]
fn errors_name_file_and_line() {
    for (text, line, needle) in [
        (
            "block a 0x0 0x100\n  reg R 0x0\n  reg R 0x4\n",
            3,
            "already defined at line 2",
        ),
        ("block a 0x0 0x100\nreg R 0xZZ\n", 2, "register offset"),
        ("reg R 0x0\n", 1, "outside a block"),
        (
            "block a 0 0x10\n reg R 0 32\n\n  field F 32\n",
            4,
            "outside the 32-bit",
        ),
        (
            "block a 0 0x10\n reg R 0 8\n  field F 7:4\n  field G 4:0\n",
            4,
            "overlaps field F",
        ),
        ("block a 0 0x10\n reg R 0 32\n  field F 3:4\n", 3, "HI:LO"),
        (
            "block a 0 0x10\n reg R 0 32\n  field F 1\n   enum X 2\n",
            4,
            "does not fit",
        ),
        ("# c\nblok a 0 0x10\n", 2, "unknown directive 'blok'"),
        ("block a 0 0x10 \"no end\n", 1, "closing"),
        ("block a 0 0x10\n reg R 0x10\n", 2, "outside block a"),
        ("block a 0 0x10\n reg R 0x2 32\n", 2, "not aligned"),
        ("block a 0 0x10\n reg R 0 24\n", 2, "bad width"),
        (
            "block a 0 0x10\n reg R 0 8 reset=0x100\n",
            2,
            "does not fit 8 bits",
        ),
        ("block a 0 0x10\n reg R 0 access=rx\n", 2, "bad access"),
        (
            "block a 0 0x10\n reg R 0 colour=red\n",
            2,
            "unknown attribute",
        ),
        ("block 0a 0 0x10\n", 1, "bad block name"),
        (
            "block a 0 0x10\nblock A 0x100 0x10\n",
            2,
            "already defined at t.regs:1",
        ),
        ("block a[0] 0 0x10\n", 1, "array count"),
        (
            "block a 0 0x10\n reg R 0\n  enum X 1\n",
            3,
            "outside a field",
        ),
        ("block a 08 0x10\n", 1, "octal"),
        ("block a 0 0x10 extra\n", 1, "expected: block"),
    ] {
        let msg = err(text);
        let want = format!("t.regs:{line}: ");
        assert!(
            msg.starts_with(&want),
            "{text:?}: {msg:?} should start with {want:?}"
        );
        assert!(msg.contains(needle), "{text:?}: {msg:?} lacks {needle:?}");
    }
}

#[test]
fn lookup_errors_list_what_exists() {
    let m = map(UART);
    let e = m.lookup("uart0.XX").unwrap_err();
    assert_eq!(e.kind, Kind::Usage);
    assert!(e.hint.as_deref().unwrap_or("").contains("DR, FR"));
    assert!(m.lookup("uart1.DR").is_err());
    assert!(m.lookup("uart0.FR.NOPE").is_err());
    assert!(m.lookup("a.b.c.d").is_err());
    assert!(m.lookup("").is_err());
}

#[test]
fn globs() {
    assert!(glob("uart0.*", "UART0.FR"));
    assert!(glob("*", ""));
    assert!(glob("u?rt*", "uart0"));
    assert!(glob("*.F*R", "uart0.FxxR"));
    assert!(!glob("uart0.*", "uart1.FR"));
    assert!(!glob("u?rt", "urt"));
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mmkit-regmap-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn includes_and_their_errors() {
    let d = tmpdir("inc");
    std::fs::write(d.join("common.regs"), "block id 0x100 0x10\n reg ID 0\n").unwrap();
    std::fs::write(d.join("top.regs"), "include common.regs\nblock a 0 0x10\n").unwrap();
    let m = RegisterMap::load(&d.join("top.regs")).unwrap();
    assert!(m.lookup("id.ID").is_ok());
    assert_eq!(m.files.len(), 2);
    // an error inside an included file names that file and its line
    std::fs::write(d.join("bad.regs"), "\n\nfield X 1\n").unwrap();
    std::fs::write(d.join("top2.regs"), "include bad.regs\n").unwrap();
    let e = RegisterMap::load(&d.join("top2.regs")).unwrap_err();
    assert!(e.msg.contains("bad.regs:3: "), "{}", e.msg);
    // a missing include names the including line
    std::fs::write(d.join("top3.regs"), "# x\ninclude nope.regs\n").unwrap();
    let e = RegisterMap::load(&d.join("top3.regs")).unwrap_err();
    assert!(e.msg.contains("top3.regs:2: "), "{}", e.msg);
    // a cycle ends with an error, not a stack overflow
    std::fs::write(d.join("loop.regs"), "include loop.regs\n").unwrap();
    let e = RegisterMap::load(&d.join("loop.regs")).unwrap_err();
    assert!(e.to_string().contains("nest deeper"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn maps_are_picked_by_board() {
    let d = tmpdir("boards");
    std::fs::write(
        d.join("arm.regs"),
        "boards linux,dummy-virt\nblock uart0 0x09000000 0x1000\n",
    )
    .unwrap();
    std::fs::write(
        d.join("mips.regs"),
        "boards mti,malta\nblock fpga 0x1F000000 0x1000\n",
    )
    .unwrap();
    std::fs::write(d.join("any.regs"), "block scratch 0 0x10\n").unwrap();
    std::fs::write(d.join("notes.txt"), "not a map\n").unwrap();
    let m = find::load_dir(&d, &["linux,dummy-virt".into()]).unwrap();
    let names: Vec<&str> = m.blocks.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["scratch", "uart0"]);
    let m = find::load_dir(&d, &["MTI,Malta".into()]).unwrap();
    assert!(m.lookup("fpga").is_ok() && m.lookup("uart0").is_err());
    std::fs::remove_file(d.join("any.regs")).unwrap();
    let e = find::load_dir(&d, &["acme,box".into()]).unwrap_err();
    assert!(e.msg.contains("acme,box"), "{}", e.msg);
    let e = find::load_dir(&d.join("nope"), &[]).unwrap_err();
    assert!(e.msg.contains("no register map"), "{}", e.msg);
    // the board's names: compatible strings, then OpenWrt's board_name
    let dt = d.join("dt");
    let si = d.join("sysinfo");
    std::fs::create_dir_all(&dt).unwrap();
    std::fs::create_dir_all(&si).unwrap();
    std::fs::write(dt.join("compatible"), b"acme,box-v2\0acme,box\0").unwrap();
    std::fs::write(si.join("board_name"), "acme,box-v2\n").unwrap();
    assert_eq!(find::board_ids(&dt, &si), ["acme,box-v2", "acme,box"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn shipped_maps_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regmaps");
    let arm = RegisterMap::load(&dir.join("qemu-arm-virt.regs")).unwrap();
    assert_eq!(arm.boards, ["linux,dummy-virt"]);
    let n = arm.lookup("uart0.PeriphID3").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x0900_0FEC);
    let n = arm.lookup("gicd.IIDR").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x0800_0008);
    let n = arm.lookup("gicd.ITARGETSR254").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x0800_0800 + 254 * 4);
    let n = arm.lookup("rtc.CR.START").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x0901_000C);
    let mips = RegisterMap::load(&dir.join("qemu-mips-malta.regs")).unwrap();
    assert_eq!(mips.boards, ["mti,malta"]);
    let n = mips.lookup("fpga.LEDBAR.LEDS").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x1F00_0408);
    let n = mips.lookup("malta.REVISION.PROID").unwrap();
    assert_eq!(n.block.addr(n.reg.unwrap()), 0x1FC0_0010);
    assert_eq!(n.field.unwrap().bits.get(0x420), 2);
    assert_eq!(
        mips.lookup("fpga.ASCIIPOS7").unwrap().reg.unwrap().offset,
        0x418 + 7 * 8
    );
    // the board reset register is not in the map
    let all = mips.matching(None);
    assert!(all.iter().all(|(b, r)| b.addr(r) != 0x1F00_0500));
}

#[test]
fn overlaps_are_refused_naming_both() {
    for (text, line, needle) in [
        (
            "block a 0 0x10\n reg R 0 32\n reg S 0 32\n",
            3,
            "register S at offset 0x0 (32 bits) overlaps register R at offset 0x0 (32 bits) at t.regs:2",
        ),
        (
            "block a 0 0x10\n reg R 0x4 32\n reg W 0 64\n",
            3,
            "register W at offset 0x0 (64 bits) overlaps register R",
        ),
        (
            "block a 0 0x10\n reg S 0x8 32\n reg R 0 32\n reg T 0x2 16\n",
            4,
            "register T at offset 0x2 (16 bits) overlaps register R at offset 0x0 (32 bits) at t.regs:3",
        ),
        (
            "block a 0 0x100\n reg A[4] 0 32 stride=0\n",
            2,
            "register A1 at offset 0x0 (32 bits) overlaps register A0",
        ),
        (
            "block a 0x1000 0x100\nblock b 0x10FF 0x10\n",
            2,
            "block b (0x10FF, size 0x10) overlaps block a (0x1000, size 0x100) at t.regs:1",
        ),
        (
            "block b 0x10FF 0x10\nblock a 0x1000 0x100\n",
            2,
            "block a (0x1000, size 0x100) overlaps block b (0x10FF, size 0x10) at t.regs:1",
        ),
        (
            "block g[2] 0x1000 0x100 stride=0x80\n",
            1,
            "block g1 (0x1080, size 0x100) overlaps block g0",
        ),
    ] {
        let msg = err(text);
        let want = format!("t.regs:{line}: ");
        assert!(
            msg.starts_with(&want),
            "{text:?}: {msg:?} should start with {want:?}"
        );
        assert!(msg.contains(needle), "{text:?}: {msg:?} lacks {needle:?}");
    }
    // Touching is not overlapping.
    map("block a 0 0x10\n reg R 0 32\n reg S 4 32\n reg T 8 64\nblock b 0x10 0x10\n");
    map("block g[4] 0x1000 0x100\n reg A[4] 0 16 stride=2\n");
}

#[test]
fn maps_merged_from_two_files_may_not_overlap() {
    let mut a = map("block a 0x1000 0x100\n");
    let b = RegisterMap::from_text("block b 0x1080 0x10\n", Path::new("u.regs")).unwrap();
    let e = a.merge(b).unwrap_err();
    assert_eq!(e.kind, Kind::Malformed);
    let msg = e.into_msg();
    assert!(
        msg.starts_with("u.regs:1: block b (0x1080, size 0x10) overlaps block a (0x1000, size 0x100) at t.regs:1"),
        "{msg}"
    );
}
