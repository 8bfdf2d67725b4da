//! `mmkit recover` on pcapng: an editcap-made capture cut at many offsets,
//! a zero-filled tail, multi-section input, blocks that name an interface
//! their section never described, in-place truncation. The results are
//! judged by `mmkit check`, capinfos and `tshark -r`.

mod common;
use common::pcapng::{capinfos_packets, frames};
use common::{emulated, pcapng_fixture as fixture, wireshark_peers};

use common::{TempDir, run, stderr, stdout};
use proptest::prelude::*;
use std::path::Path;
use std::process::Command;

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A pcapng made by editcap from a pcap that `mmkit gen` wrote.
fn editcap_pcapng(t: &TempDir, size: &str) -> Vec<u8> {
    let pcap = t.s("gen.pcap");
    let o = run(&[
        "gen",
        &pcap,
        "--layout",
        "pcap",
        "--size",
        size,
        "--max-payload",
        "300",
        "-f",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let ng = t.join("gen.pcapng");
    let o = Command::new("editcap")
        .args(["-F", "pcapng", &pcap, &s(&ng)])
        .output()
        .expect("editcap");
    assert!(o.status.success(), "editcap: {}", stderr(&o));
    std::fs::read(&ng).unwrap()
}

/// Block boundaries (0, then the end of every block) and whether each block
/// is a packet block; follows every section's byte order.
fn blocks(data: &[u8]) -> (Vec<u64>, Vec<bool>) {
    let (mut ends, mut packet) = (vec![0u64], Vec::new());
    let (mut at, mut big) = (0usize, false);
    while at < data.len() {
        if data[at..at + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            big = data[at + 8..at + 12] == [0x1a, 0x2b, 0x3c, 0x4d];
        }
        let u = |o: usize| {
            let b: [u8; 4] = data[o..o + 4].try_into().unwrap();
            if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        packet.push(matches!(u(at), 2 | 3 | 6));
        at += u(at + 4) as usize;
        ends.push(at as u64);
    }
    assert_eq!(at, data.len(), "the capture ends on a block boundary");
    (ends, packet)
}

/// `kept: N packets, B bytes, K blocks`.
fn kept(report: &str) -> (u64, u64, u64) {
    let l = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("kept:"))
        .unwrap_or_else(|| panic!("no kept line in {report}"));
    let f: Vec<&str> = l.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    (
        f[0].parse().unwrap(),
        f[2].parse().unwrap(),
        f[4].parse().unwrap(),
    )
}

/// The longest whole-block prefix of a cut at `cut`: its length, blocks and packets.
fn expected(ends: &[u64], packet: &[bool], cut: u64) -> (u64, u64, u64) {
    let n = ends.iter().rposition(|&x| x <= cut).unwrap();
    let packets = packet[..n].iter().filter(|&&p| p).count() as u64;
    (ends[n], n as u64, packets)
}

/// Cut `data` at `cut`, recover to OUT; the result is the longest
/// whole-block prefix, checks clean and (with `peers`) capinfos and tshark
/// read all its packets.
fn cut_and_recover(data: &[u8], ends: &[u64], packet: &[bool], cut: usize, peers: bool) {
    let t = TempDir::new("ngcut");
    let input = t.join("in.pcapng");
    std::fs::write(&input, &data[..cut]).unwrap();
    let out = t.join("out.pcapng");
    let o = run(&["recover", &s(&input), "-o", &s(&out)]);
    let (len, nblocks, packets) = expected(ends, packet, cut as u64);
    if nblocks == 0 {
        assert_eq!(o.status.code(), Some(3), "cut {cut}: {}", stderr(&o));
        assert!(!out.exists());
        return;
    }
    assert!(o.status.success(), "cut {cut}: {}", stderr(&o));
    let report = stdout(&o);
    if len == cut as u64 {
        assert!(report.contains("nothing to recover"), "cut {cut}: {report}");
        assert!(!out.exists(), "a clean file is not copied");
        return;
    }
    assert_eq!(
        kept(&report),
        (packets, len, nblocks),
        "cut {cut}: {report}"
    );
    assert!(report.contains("why:"), "{report}");
    let got = std::fs::read(&out).unwrap();
    assert!(got == data[..len as usize], "cut {cut}: not the prefix");
    let c = run(&["check", &s(&out)]);
    assert!(c.status.success(), "check: {}", stdout(&c));
    if peers {
        assert_eq!(capinfos_packets(&out), packets, "capinfos, cut {cut}");
        assert_eq!(frames(&out).len() as u64, packets, "tshark, cut {cut}");
    }
}

/// Every cut offset of an editcap-made capture, as dry runs: the report
/// names the longest whole-block prefix (under emulation, where a process
/// start costs ~70 ms, every 31st offset). The block boundaries ±1 are
/// recovered for real and checked (every 3rd under emulation); every 8th is
/// read by capinfos and tshark.
#[test]
fn every_cut_of_an_editcap_capture_keeps_the_longest_whole_block_prefix() {
    if !wireshark_peers() {
        return;
    }
    let t = TempDir::new("ngevery");
    let data = editcap_pcapng(&t, "3K");
    let (ends, packet) = blocks(&data);
    assert!(ends.len() > 8, "{ends:?}");
    let step = if emulated() { 31 } else { 1 };
    let cut_path = t.join("cut.pcapng");
    for cut in (24..=data.len()).filter(|&c| c % step == 0 || c == data.len()) {
        std::fs::write(&cut_path, &data[..cut]).unwrap();
        let o = run(&["recover", "-n", &s(&cut_path)]);
        let (len, nblocks, packets) = expected(&ends, &packet, cut as u64);
        if nblocks == 0 {
            assert_eq!(o.status.code(), Some(3), "cut {cut}: {}", stderr(&o));
            assert!(
                stderr(&o).contains("nothing is recoverable"),
                "{}",
                stderr(&o)
            );
            continue;
        }
        assert!(o.status.success(), "cut {cut}: {}", stderr(&o));
        let r = stdout(&o);
        if len == cut as u64 {
            assert!(r.contains("nothing to recover"), "cut {cut}: {r}");
        } else {
            assert_eq!(kept(&r), (packets, len, nblocks), "cut {cut}: {r}");
            assert!(r.contains("would write"), "{r}");
        }
    }
    for (i, &x) in ends.iter().enumerate() {
        if emulated() && i % 3 != 1 {
            continue;
        }
        for cut in [x.saturating_sub(1), x, x + 1] {
            if (cut as usize) <= data.len() {
                cut_and_recover(&data, &ends, &packet, cut as usize, i % 8 == 1);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(8), ..ProptestConfig::default() })]

    /// An editcap-made capture cut anywhere: recover writes the longest
    /// whole-block prefix, which check, capinfos and tshark read.
    #[test]
    fn cut_anywhere_is_read_by_wireshark(at in 0.0f64..1.0) {
        if !wireshark_peers() {
            return Ok(());
        }
        let t = TempDir::new("ngprop");
        let data = editcap_pcapng(&t, "20K");
        let (ends, packet) = blocks(&data);
        let cut = ((data.len() as f64) * at) as usize;
        cut_and_recover(&data, &ends, &packet, cut.max(24), true);
    }
}

/// A pre-sized output never filled: the zeros go, what is left is the
/// original; a block cut by the zeros goes with them.
#[test]
fn zero_filled_tail_is_dropped() {
    let peers = wireshark_peers();
    let t = TempDir::new("ngzero");
    let data = std::fs::read(fixture("two-interfaces")).unwrap();
    let (ends, packet) = blocks(&data);
    let mid = ends[ends.len() / 2] as usize;
    for (body, why) in [
        (&data[..], "zero-filled tail"),
        (&data[..mid + 20], "zero-filled tail"),
    ] {
        let mut z = body.to_vec();
        z.resize(body.len() + 4096, 0);
        let input = t.join("z.pcapng");
        std::fs::write(&input, &z).unwrap();
        let o = run(&["recover", &s(&input), "-f"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r = stdout(&o);
        assert!(r.contains(why), "{r}");
        let (len, nblocks, packets) = expected(&ends, &packet, body.len() as u64);
        assert_eq!(kept(&r), (packets, len, nblocks), "{r}");
        let out = t.join("z.recovered.pcapng");
        assert!(std::fs::read(&out).unwrap() == data[..len as usize]);
        if peers {
            assert_eq!(capinfos_packets(&out), packets);
            assert_eq!(frames(&out).len() as u64, packets);
        }
    }
}

/// Two sections (two captures concatenated): a cut in the second keeps the
/// whole first section and the second's whole blocks; an EPB naming an
/// interface its section never described is damage, and what follows it
/// is counted as dropped.
#[test]
fn multi_section_and_unknown_interfaces() {
    let peers = wireshark_peers();
    let t = TempDir::new("ngmulti");
    let data = std::fs::read(fixture("multi-section")).unwrap();
    let (ends, packet) = blocks(&data);
    let shbs: Vec<usize> = ends[..ends.len() - 1]
        .iter()
        .map(|&e| e as usize)
        .filter(|&e| data[e..e + 4] == [0x0a, 0x0d, 0x0d, 0x0a])
        .collect();
    assert_eq!(shbs.len(), 2, "two sections");
    let cut = (shbs[1] + data.len()) / 2 + 3;
    cut_and_recover(&data, &ends, &packet, cut, peers);
    // Cut right after the second SHB: the first section and that SHB.
    let second_shb_end = ends[ends.iter().position(|&e| e as usize == shbs[1]).unwrap() + 1];
    cut_and_recover(&data, &ends, &packet, second_shb_end as usize + 5, peers);

    // The last EPB of the second section names interface 9.
    let i = packet.iter().rposition(|&p| p).unwrap();
    let at = ends[i] as usize;
    let mut bad = data.clone();
    bad[at + 8..at + 12].copy_from_slice(&9u32.to_le_bytes());
    let input = t.join("bad.pcapng");
    std::fs::write(&input, &bad).unwrap();
    let o = run(&["recover", &s(&input), "-f"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = stdout(&o);
    assert!(r.contains("names interface 9"), "{r}");
    assert!(r.contains(&format!("at byte {at} ")), "{r}");
    let tail_blocks = (ends.len() - 1 - i) as u64;
    assert!(
        r.contains(&format!(
            "among them {tail_blocks} whole blocks (1 packets)"
        )),
        "{r}"
    );
    let (len, nblocks, packets) = expected(&ends, &packet, at as u64);
    assert_eq!(kept(&r), (packets, len, nblocks), "{r}");
    let out = t.join("bad.recovered.pcapng");
    assert!(std::fs::read(&out).unwrap() == data[..at]);
    if peers {
        assert_eq!(capinfos_packets(&out), packets);
        assert_eq!(frames(&out).len() as u64, packets);
    }

    // A packet before any IDB: only the SHB is left.
    let single = std::fs::read(fixture("single")).unwrap();
    let (e1, _) = blocks(&single);
    let mut no_idb = single[..e1[1] as usize].to_vec();
    no_idb.extend_from_slice(&single[e1[2] as usize..]);
    std::fs::write(&input, &no_idb).unwrap();
    let o = run(&["recover", &s(&input), "--in-place"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = stdout(&o);
    assert!(r.contains("before any Interface Description Block"), "{r}");
    assert!(r.contains("truncated to"), "{r}");
    assert_eq!(std::fs::read(&input).unwrap(), single[..e1[1] as usize]);
    let c = run(&["check", &s(&input)]);
    assert!(c.status.success(), "{}", stdout(&c));
    if peers {
        assert_eq!(frames(&input).len(), 0);
    }
}

/// A cut inside the first SHB: nothing to recover, exit 3, nothing written.
#[test]
fn a_cut_first_section_header_is_exit_3() {
    let t = TempDir::new("ngshb");
    let data = std::fs::read(fixture("single")).unwrap();
    let input = t.join("c.pcapng");
    std::fs::write(&input, &data[..40]).unwrap();
    let o = run(&["recover", &s(&input)]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Section Header Block"),
        "{}",
        stderr(&o)
    );
    assert!(!t.join("c.recovered.pcapng").exists());
}

/// Blocks damaged in the middle of a capture: a trailing length that
/// differs from the leading one, and a leading length that is not a
/// multiple of 4. `check` names the damage and its offset (exit 3);
/// `recover` keeps every block before the damaged one, which checks clean
/// and which capinfos and tshark read in full; the packets after it are
/// counted as dropped.
#[test]
fn blocks_damaged_in_the_middle() {
    let peers = wireshark_peers();
    let t = TempDir::new("ngmid");
    let data = std::fs::read(fixture("two-interfaces")).unwrap();
    let (ends, packet) = blocks(&data);
    // A packet block in the middle, not the last one.
    let i = (ends.len() / 2..ends.len() - 2)
        .find(|&i| packet[i])
        .expect("a packet block in the middle");
    let at = ends[i] as usize;
    let len = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
    let trail = at + len - 4;
    let damages: [(&str, Vec<u8>, &str); 2] = [
        (
            "trailing",
            {
                let mut d = data.clone();
                d[trail..trail + 4].copy_from_slice(&(len as u32 + 4).to_le_bytes());
                d
            },
            "trailing",
        ),
        (
            "unaligned",
            {
                let mut d = data.clone();
                d[at + 4..at + 8].copy_from_slice(&(len as u32 + 2).to_le_bytes());
                d
            },
            "multiple of 4",
        ),
    ];
    let (klen, nblocks, packets) = expected(&ends, &packet, at as u64);
    assert!(packets > 0 && klen as usize == at);
    for (name, bad, why) in damages {
        let input = t.join(&format!("{name}.pcapng"));
        std::fs::write(&input, &bad).unwrap();
        let c = run(&["check", &s(&input)]);
        assert_eq!(c.status.code(), Some(3), "{name}: {}", stdout(&c));
        let report = stdout(&c) + &stderr(&c);
        assert!(report.contains(why), "{name}: {report}");
        assert!(
            report.contains(&format!("{at}")),
            "{name}: offset {at} in {report}"
        );
        let out = t.join(&format!("{name}.recovered.pcapng"));
        let o = run(&["recover", &s(&input), "-o", &s(&out)]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let r = stdout(&o);
        assert_eq!(kept(&r), (packets, klen, nblocks), "{name}: {r}");
        assert!(r.contains(&format!("at byte {at} ")), "{name}: {r}");
        assert!(r.contains(why), "{name}: {r}");
        assert!(
            std::fs::read(&out).unwrap() == data[..at],
            "{name}: the prefix"
        );
        let c = run(&["check", &s(&out)]);
        assert!(c.status.success(), "{name}: {}", stdout(&c));
        if peers {
            assert_eq!(capinfos_packets(&out), packets, "{name}: capinfos");
            assert_eq!(frames(&out).len() as u64, packets, "{name}: tshark");
        }
    }
}
