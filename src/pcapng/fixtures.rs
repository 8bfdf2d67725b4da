//! The captures made by Wireshark's tools (tests/pcapng/make-fixtures.sh) fed
//! through the module: statistics against what `capinfos` and `tshark` said,
//! split/join round trips, damage, and (when tshark is installed) Wireshark
//! reading every piece back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::block::{DEFAULT_MAX_BLOCK, Walker, valid_prefix_len};
use super::plan::Splitter;
use super::section::Joiner;
use super::stats::{PacketInfo, Stats, TsResol};
use super::{DSB, Damage, Endian, ISB, SHB, detect};

const MAX: u32 = DEFAULT_MAX_BLOCK;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcapng/fixtures")
}

/// Every fixture, by name (without `.pcapng`); at least the scripted ones.
fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir())
        .expect("tests/pcapng/fixtures exists (tests/pcapng/make-fixtures.sh)")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcapng"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            (name, fs::read(&p).expect("readable fixture"))
        })
        .collect();
    v.sort();
    let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "single",
        "two-interfaces",
        "multi-section",
        "secrets",
        "isb",
        "big-endian",
        "mixed-endian",
    ] {
        assert!(names.contains(&want), "fixture {want} missing: {names:?}");
    }
    v
}

fn side(name: &str, ext: &str) -> String {
    fs::read_to_string(dir().join(format!("{name}.{ext}"))).expect("fixture side file")
}

/// What capinfos said: packets, and per interface (Wireshark's short name of
/// the encapsulation, snaplen, precision digits, stat entries).
struct Capinfos {
    packets: u64,
    interfaces: Vec<(String, u32, u8, u64)>,
}

/// Wireshark's short encapsulation name of the LINKTYPE_ values in the fixtures
/// (capinfos prints its own encapsulation numbers, not LINKTYPE_ ones).
fn wtap_name(link_type: u16) -> &'static str {
    match link_type {
        1 => "ether",
        101 => "rawip",
        _ => "unexpected link type",
    }
}

fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim().strip_prefix(key).map(str::trim)
}

fn capinfos(name: &str) -> Capinfos {
    let text = side(name, "capinfos");
    let mut c = Capinfos {
        packets: 0,
        interfaces: Vec::new(),
    };
    let num = |s: &str| {
        s.split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
    };
    let paren = |s: &str| {
        s.rsplit_once('(')
            .and_then(|(_, r)| r.split([' ', ')']).next()?.parse::<u64>().ok())
    };
    // Interfaces are listed once; stop at a repeated "Number of interfaces" list.
    let mut lists = 0;
    for line in text.lines() {
        if after(line, "Number of interfaces in file:").is_some() {
            lists += 1;
        }
        if lists > 1 {
            break;
        }
        if let Some(v) = after(line, "Number of packets:") {
            c.packets = num(v).expect("packet count");
        } else if let Some(v) = after(line, "Encapsulation =") {
            // "Raw IP (7 - rawip)": the name after the dash.
            let short = v.rsplit_once("- ").map(|(_, r)| r.trim_end_matches(')'));
            c.interfaces
                .push((short.expect("encapsulation name").to_string(), 0, 0, 0));
        } else if let (Some(v), Some(i)) =
            (after(line, "Capture length ="), c.interfaces.last_mut())
        {
            i.1 = num(v).expect("snaplen") as u32;
        } else if let (Some(v), Some(i)) =
            (after(line, "Time precision ="), c.interfaces.last_mut())
        {
            i.2 = paren(v).expect("precision") as u8;
        } else if let (Some(v), Some(i)) = (
            after(line, "Number of stat entries ="),
            c.interfaces.last_mut(),
        ) {
            i.3 = num(v).expect("stat entries");
        }
    }
    c
}

/// tshark's fields per packet: epoch time, length, captured length, interface.
fn frames(name: &str) -> Vec<(String, u32, u32, u32)> {
    side(name, "frames")
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let n = |i: usize| f[i].trim().parse::<u32>().expect("number field");
            (f[0].to_string(), n(1), n(2), n(3))
        })
        .collect()
}

fn packets(data: &[u8]) -> (Stats, Vec<PacketInfo>) {
    let mut s = Stats::new();
    let mut p = Vec::new();
    for b in Walker::new(data, 0, MAX) {
        let b = b.expect("fixture walks clean");
        p.extend(s.feed(b.offset, b.header.block_type, b.bytes));
    }
    (s, p)
}

#[test]
fn stats_match_capinfos_and_tshark() {
    for (name, data) in fixtures() {
        let d = detect(&data).expect("fixture is pcapng");
        let whole = Stats::of(&data, MAX);
        assert_eq!(whole.damage, None, "{name}");
        assert_eq!(whole.valid_bytes, data.len() as u64, "{name}");
        let (s, pk) = packets(&data);
        let ci = capinfos(&name);
        assert_eq!(s.packets, ci.packets, "{name}: packets");
        let mine: Vec<_> = s
            .interfaces
            .iter()
            .map(|i| {
                let digits = match i.tsresol {
                    TsResol::Pow10(n) => n,
                    TsResol::Pow2(n) => panic!("{name}: 2^-{n} not in fixtures"),
                };
                (wtap_name(i.link_type).to_string(), i.snaplen, digits)
            })
            .collect();
        let theirs: Vec<_> = ci
            .interfaces
            .iter()
            .map(|i| (i.0.clone(), i.1, i.2))
            .collect();
        assert_eq!(mine, theirs, "{name}: interfaces");
        let isbs: u64 = ci.interfaces.iter().map(|i| i.3).sum();
        assert_eq!(s.count(ISB), isbs, "{name}: statistics blocks");
        // Per packet: time, lengths, and the interface (tshark 4.0 prints the
        // section-local interface ID for packets of later sections).
        let fr = frames(&name);
        assert_eq!(pk.len(), fr.len(), "{name}");
        for (p, f) in pk.iter().zip(&fr) {
            let i = usize::try_from(p.interface.expect("defined interface")).expect("small");
            let ifc = &s.interfaces[i];
            let ts = p.ts.expect("EPB timestamp").to_string();
            assert_eq!(
                (ts, p.orig_len, p.cap_len, ifc.local_id),
                f.clone(),
                "{name} at {}",
                p.offset
            );
        }
        let min = fr.iter().map(|f| f.0.clone()).min();
        let max = fr.iter().map(|f| f.0.clone()).max();
        assert_eq!(s.first_ts.map(|t| t.to_string()), min, "{name}");
        assert_eq!(s.last_ts.map(|t| t.to_string()), max, "{name}");
        let expect_endian = if name == "big-endian" {
            Endian::Big
        } else {
            Endian::Little
        };
        assert_eq!(d.endian, expect_endian, "{name}");
        match name.as_str() {
            "multi-section" | "mixed-endian" => assert_eq!(s.count(SHB), 2),
            "secrets" => assert_eq!(s.count(DSB), 1),
            "isb" => assert_eq!(s.count(ISB), 2),
            _ => assert_eq!(s.count(SHB), 1, "{name}"),
        }
    }
}

/// The pieces of a split at `size`, or at the smallest size above it that
/// holds every block next to its prefix.
fn split(data: &[u8], mut size: u64) -> (Vec<Vec<u8>>, u64) {
    let mut sp = Splitter::new(size);
    let mut plans = Vec::new();
    let mut walk = Walker::new(data, 0, MAX);
    while let Some(b) = walk.next() {
        let b = b.expect("fixture walks clean");
        match sp.feed(b.offset, b.header.block_type, b.bytes) {
            Ok(p) => plans.extend(p),
            Err(r) => {
                assert!(r.need() > size, "{r:?} under {size}");
                size = r.need();
                sp = Splitter::new(size);
                plans.clear();
                walk = Walker::new(data, 0, MAX);
            }
        }
    }
    plans.extend(sp.finish());
    let pieces = plans
        .iter()
        .map(|p| p.materialize(data).expect("in range"))
        .collect();
    (pieces, size)
}

fn join(pieces: &[Vec<u8>]) -> Vec<u8> {
    let mut j = Joiner::new();
    let mut out = Vec::new();
    for p in pieces {
        let drop = j.start_piece(p).expect("piece continues the capture");
        for b in Walker::new(&p[drop..], 0, MAX).in_section(j.endian()) {
            let b = b.expect("piece body walks clean");
            j.feed(b.header.block_type, b.bytes);
        }
        out.extend_from_slice(&p[drop..]);
    }
    out
}

#[test]
fn split_join_round_trip_is_byte_identical() {
    for (name, data) in fixtures() {
        // dumpcap and editcap write Section Length -1: join gives the same bytes.
        for size in [600u64, 2000, 5000, 1 << 20] {
            let (pieces, max) = split(&data, size);
            let mut packets = 0;
            for p in &pieces {
                let s = Stats::of(p, MAX);
                assert_eq!(s.damage, None, "{name}/{size}");
                assert!(p.len() as u64 <= max, "{name}/{size}: {} bytes", p.len());
                assert_eq!(detect(p).map(|d| d.major), Ok(1));
                packets += s.packets;
            }
            // Pieces repeat no packet: their packets add up to the input's.
            assert_eq!(packets, Stats::of(&data, MAX).packets, "{name}/{size}");
            assert_eq!(join(&pieces), data, "{name}/{size}");
        }
    }
}

#[test]
fn damaged_fixtures_report_the_block_offset() {
    let data = fixtures()
        .into_iter()
        .find(|(n, _)| n == "two-interfaces")
        .expect("fixture")
        .1;
    let offs: Vec<u64> = Walker::new(&data, 0, MAX)
        .map(|b| b.expect("clean").offset)
        .collect();
    let at = offs[5] as usize;
    // Cut in the middle of block 5: recover keeps blocks 0..5.
    let cut = &data[..at + 20];
    assert_eq!(valid_prefix_len(cut, MAX), at);
    assert!(
        matches!(Stats::of(cut, MAX).damage, Some((o, Damage::Truncated { .. })) if o == at as u64)
    );
    // Change block 5's trailing length.
    let mut bad = data.clone();
    let end = offs[6] as usize;
    bad[end - 4] ^= 0x40;
    assert!(
        matches!(Stats::of(&bad, MAX).damage, Some((o, Damage::TrailerMismatch { .. })) if o == at as u64)
    );
    assert_eq!(valid_prefix_len(&bad, MAX), at);
}

/// Wireshark itself reads every piece and sees the input's packets, in order.
#[test]
fn tshark_reads_the_pieces() {
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("tshark not installed: pieces not checked by Wireshark");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("mmkit-pcapng-{}", std::process::id()));
    fs::create_dir_all(&tmp).expect("temp dir");
    for (name, data) in fixtures() {
        let want: Vec<_> = frames(&name).into_iter().map(|f| (f.0, f.1)).collect();
        let mut got = Vec::new();
        for (k, p) in split(&data, 5000).0.iter().enumerate() {
            let path = tmp.join(format!("{name}.{k}.pcapng"));
            fs::write(&path, p).expect("write piece");
            let out = Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
                .output()
                .expect("tshark runs");
            assert!(
                out.status.success(),
                "{name} piece {k}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                let (t, n) = l.split_once('\t').expect("two fields");
                got.push((t.to_string(), n.trim().parse::<u32>().expect("length")));
            }
        }
        assert_eq!(got, want, "{name}");
    }
    let _ = fs::remove_dir_all(&tmp);
}
