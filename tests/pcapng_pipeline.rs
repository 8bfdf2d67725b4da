//! pcapng through the record pipeline, run as the binary on the committed
//! Wireshark-made fixtures (tests/pcapng/fixtures), with Wireshark's own
//! tools as the judges: `check` agrees with capinfos; every piece of a
//! split is read by capinfos, tshark and editcap, and the pieces' packets
//! (time, length, interface) are the original's; join gives the original
//! back; damage exits 3 naming the offset.

mod common;
use common::pcapng::{frames, pieces, unknown_section_lengths};
use common::{TempDir, run, stderr, stdout};
use common::{pcapng_fixture as fixture, wireshark_peers};
use std::path::Path;
use std::process::Command;

const FIXTURES: [&str; 8] = [
    "single",
    "two-interfaces",
    "multi-section",
    "secrets",
    "isb",
    "live-isb",
    "big-endian",
    "mixed-endian",
];

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn ok(cmd: &mut Command, what: &str) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value after `key` on the first line that starts with it.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.trim_start().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key:?} in:\n{text}"))
        .trim()
}

#[test]
fn check_counts_match_capinfos() {
    if !wireshark_peers() {
        return;
    }
    for name in FIXTURES {
        let f = fixture(name);
        let ci = ok(Command::new("capinfos").args(["-M", &s(&f)]), "capinfos");
        for layout in ["auto", "pcapng"] {
            let o = run(&["check", &s(&f), "--layout", layout]);
            let out = stdout(&o);
            assert_eq!(o.status.code(), Some(0), "{name}: {out}{}", stderr(&o));
            assert!(out.contains(": OK"), "{name}: {out}");
            assert!(out.contains("layout:   pcapng"), "{name}: {out}");
            assert_eq!(
                field(&out, "packets:"),
                field(&ci, "Number of packets:"),
                "{name}: {out}"
            );
            assert_eq!(
                field(&out, "interfaces:"),
                field(&ci, "Number of interfaces in file:"),
                "{name}: {out}"
            );
            let size = std::fs::metadata(&f).unwrap().len();
            assert!(out.contains(&format!("({size} bytes)")), "{name}: {out}");
        }
    }
    // Interface details and block counts on the mergecap fixture.
    let out = stdout(&run(&["check", &s(&fixture("two-interfaces"))]));
    assert!(
        out.contains("SHB 1") && out.contains("IDB 2") && out.contains("EPB 18"),
        "{out}"
    );
    assert!(
        out.contains("link type 1, snaplen 262144, tsresol 10^-6 s, 9 packets"),
        "{out}"
    );
    assert!(
        out.contains("link type 101, snaplen 262144, tsresol 10^-9 s, 9 packets"),
        "{out}"
    );
    assert!(
        out.contains("time:     1700000000.000729000 .. 1700000000.004522131"),
        "{out}"
    );
    let out = stdout(&run(&["check", &s(&fixture("big-endian"))]));
    assert!(out.contains("pcapng (big-endian)"), "{out}");
    let out = stdout(&run(&["check", &s(&fixture("secrets"))]));
    assert!(out.contains("DSB 1"), "{out}");
    let out = stdout(&run(&["check", &s(&fixture("isb"))]));
    assert!(out.contains("ISB 2"), "{out}");
}

#[test]
fn split_pieces_are_read_by_wireshark_and_hold_the_same_packets() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("pcapng-split");
    for name in FIXTURES {
        let f = fixture(name);
        // Several pieces each, every block fitting beside the prefix.
        let size: u64 = if name == "live-isb" { 500 } else { 2500 };
        let d = t.join(name);
        let o = run(&["split", &s(&f), "-o", &s(&d), "--size", &size.to_string()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let ps = pieces(&d);
        assert!(ps.len() > 2, "{name}: {ps:?}");
        assert!(d.join(format!("{name}.manifest")).exists());
        // editcap 4.0 cannot rewrite some originals (the DSB fixture:
        // "can't be written as a pcapng file"); their pieces are exempt.
        let again = t.join("editcap.pcapng");
        let editcap = |p: &Path| {
            Command::new("editcap")
                .args(["-F", "pcapng", &s(p), &s(&again)])
                .output()
                .expect("editcap")
        };
        let editcap_reads_original = editcap(&f).status.success();
        if !editcap_reads_original {
            eprintln!("{name}: editcap cannot rewrite the original; not asked for its pieces");
        }
        let mut got = Vec::new();
        for (k, p) in ps.iter().enumerate() {
            assert_eq!(
                p.file_name().unwrap().to_string_lossy(),
                format!("{name}.{k:04}.pcapng")
            );
            let len = std::fs::metadata(p).unwrap().len();
            assert!(len <= size, "{}: {len} bytes", p.display());
            let ci = ok(
                Command::new("capinfos").args(["-M", "-c", &s(p)]),
                &format!("capinfos {}", p.display()),
            );
            assert!(ci.contains("Number of packets"), "{ci}");
            if editcap_reads_original {
                let o = editcap(p);
                assert!(
                    o.status.success(),
                    "editcap {}: {}",
                    p.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            got.extend(frames(p));
            // Every piece is clean for mmkit too.
            let o = run(&["check", &s(p)]);
            assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        }
        assert_eq!(got, frames(&f), "{name}: the pieces' packets");
    }
}

#[test]
fn join_gives_the_original_back() {
    let t = TempDir::new("pcapng-join");
    for name in FIXTURES {
        let f = fixture(name);
        let orig = std::fs::read(&f).unwrap();
        let want = unknown_section_lengths(orig.clone());
        for (i, size) in ["1", "700", "2500", "100K"].iter().enumerate() {
            for write in ["kernel", "mmap"] {
                let mut size = size.to_string();
                let mut d = t.join(&format!("{name}-{i}-{write}"));
                let split = |d: &Path, size: &str| {
                    run(&[
                        "split",
                        &s(&f),
                        "-o",
                        &s(d),
                        "--size",
                        size,
                        "--write",
                        write,
                    ])
                };
                let mut o = split(&d, &size);
                // A --size that cannot hold the prefix and a block is
                // refused (exit 2), naming one that can.
                for retry in 0..8 {
                    if o.status.success() {
                        break;
                    }
                    let err = stderr(&o);
                    assert_eq!(o.status.code(), Some(2), "{name} {size}: {err}");
                    let n = ["the smallest workable --size is ", "--size "]
                        .iter()
                        .filter_map(|k| err.rfind(k).map(|at| &err[at + k.len()..]))
                        .map(|r| {
                            r.chars()
                                .take_while(char::is_ascii_digit)
                                .collect::<String>()
                        })
                        .find(|n| !n.is_empty() && *n != size)
                        .unwrap_or_else(|| panic!("{name} {size}: no workable size in {err}"));
                    size = n;
                    d = t.join(&format!("{name}-{i}-{write}-{retry}"));
                    o = split(&d, &size);
                }
                assert!(o.status.success(), "{name} {size}: {}", stderr(&o));
                assert!(!stderr(&o).contains("goes alone"), "{}", stderr(&o));
                let out = d.join("joined.pcapng");
                let mut args = vec!["join".to_string()];
                args.extend(pieces(&d).iter().map(|p| s(p)));
                args.extend(["-o".into(), s(&out), "--write".into(), write.into()]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = run(&args);
                assert!(o.status.success(), "{name} {size}: {}", stderr(&o));
                let joined = std::fs::read(&out).unwrap();
                if want == orig {
                    assert!(joined == orig, "{name} {size}: not byte-identical");
                } else {
                    assert!(
                        joined == want,
                        "{name} {size}: differs beyond Section Length"
                    );
                }
            }
        }
    }
}

#[test]
fn join_refuses_pieces_that_do_not_fit() {
    let t = TempDir::new("pcapng-refuse");
    let split = |name: &str| {
        let d = t.join(name);
        let o = run(&["split", &s(&fixture(name)), "-o", &s(&d), "--size", "2500"]);
        assert!(o.status.success(), "{}", stderr(&o));
        pieces(&d)
    };
    let a = split("single");
    let b = split("two-interfaces");
    // Renamed copies: no manifest, the section prefix decides.
    let loose = t.join("loose");
    std::fs::create_dir(&loose).unwrap();
    let a0 = loose.join("a0.pcapng");
    let b1 = loose.join("b1.pcapng");
    std::fs::copy(&a[0], &a0).unwrap();
    std::fs::copy(&b[1], &b1).unwrap();
    let o = run(&["join", &s(&a0), &s(&b1), "-o", &t.s("x.pcapng")]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("b1.pcapng"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Section Header Block"),
        "{}",
        stderr(&o)
    );
    let b0 = loose.join("b0.pcapng");
    std::fs::copy(&b[0], &b0).unwrap();
    // A manifest's set: a missing piece is named.
    let o = run(&["join", &s(&b[0]), &s(&b[2]), "-o", &t.s("y.pcapng")]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("two-interfaces.0001.pcapng"),
        "{}",
        stderr(&o)
    );
    // A piece given twice.
    let o = run(&["join", &s(&b0), &s(&b0), "-o", &t.s("z.pcapng")]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(!t.join("x.pcapng").exists() && !t.join("y.pcapng").exists());
}

#[test]
fn damaged_pcapng_exits_3_with_the_offset() {
    let t = TempDir::new("pcapng-damage");
    let orig = std::fs::read(fixture("single")).unwrap();
    // single: SHB (108 bytes) at 0, IDB (20) at 108, first EPB at 128.
    let cut = t.join("cut.pcapng");
    std::fs::write(&cut, &orig[..500]).unwrap();
    let o = run(&["check", &s(&cut)]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("DAMAGED") && out.contains("truncated block"),
        "{out}"
    );
    assert!(out.contains("at byte 128"), "{out}");
    // A wrong trailing length in the first EPB.
    let mut bad = orig.clone();
    let epb_len = u32::from_le_bytes(bad[132..136].try_into().unwrap()) as usize;
    bad[128 + epb_len - 4] ^= 0x10;
    let trail = t.join("trail.pcapng");
    std::fs::write(&trail, &bad).unwrap();
    let o = run(&["check", &s(&trail)]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("trailing block length"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("at byte 128"), "{}", stdout(&o));
    // split stops on the damage with the offset, like for records.
    let o = run(&["split", &s(&trail), "-o", &t.s("d"), "--size", "2000"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("at byte 128"), "{}", stderr(&o));
    // A bad byte-order magic: auto does not take it for pcapng, --layout pcapng refuses it.
    let mut bom = orig.clone();
    bom[8] = 0;
    let bomf = t.join("bom.pcapng");
    std::fs::write(&bomf, &bom).unwrap();
    let o = run(&["check", &s(&bomf), "--layout", "pcapng"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("byte-order magic"), "{}", stdout(&o));
    // --layout pcapng on a classic pcap.
    let pcap = t.join("c.pcap");
    let o = run(&["gen", &s(&pcap), "--layout", "pcap", "--size", "64K"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["check", &s(&pcap), "--layout", "pcapng"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("not pcapng"), "{}", stdout(&o));
    // Record geometry flags make no sense for pcapng.
    let o = run(&[
        "split",
        &s(&fixture("single")),
        "-o",
        &t.s("g"),
        "--rec-header-len",
        "16",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("geometry"), "{}", stderr(&o));
    // A pcapng file under --layout pcap points at the right layout.
    let o = run(&["check", &s(&fixture("single")), "--layout", "pcap"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("--layout pcapng"), "{}", stdout(&o));
}

#[test]
fn multi_window_capture_walks_splits_and_joins_through_small_windows() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("pcapng-windows");
    let pcap = t.join("big.pcap");
    let o = run(&["gen", &s(&pcap), "--layout", "pcap", "--size", "3M"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let png = t.join("big.pcapng");
    ok(
        Command::new("editcap").args(["-F", "pcapng", &s(&pcap), &s(&png)]),
        "editcap -F pcapng",
    );
    let ci = ok(Command::new("capinfos").args(["-M", &s(&png)]), "capinfos");
    let orig = std::fs::read(&png).unwrap();
    for access in ["mmap", "read", "auto"] {
        let o = run(&["check", &s(&png), "--window", "64K", "--access", access]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert_eq!(
            field(&stdout(&o), "packets:"),
            field(&ci, "Number of packets:")
        );
        let d = t.join(&format!("d-{access}"));
        let o = run(&[
            "split",
            &s(&png),
            "-o",
            &s(&d),
            "--size",
            "200K",
            "--window",
            "64K",
            "--access",
            access,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let ps = pieces(&d);
        assert!(ps.len() >= 15, "{}", ps.len());
        for p in &ps {
            assert!(std::fs::metadata(p).unwrap().len() <= 200 << 10);
        }
        let out = t.join(&format!("j-{access}.pcapng"));
        let mut args = vec!["join".to_string()];
        args.extend(ps.iter().map(|p| s(p)));
        args.extend([
            "-o".into(),
            s(&out),
            "--window".into(),
            "64K".into(),
            "--access".into(),
            access.into(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            std::fs::read(&out).unwrap() == orig,
            "{access}: join differs"
        );
    }
}
