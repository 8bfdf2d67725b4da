//! pcapng helpers of the tests: what Wireshark's tools say about a file,
//! and the pieces a split wrote.

use super::{names, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

/// tshark's time, length and interface of every frame.
pub fn frames(p: &Path) -> Vec<String> {
    let o = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(p)
        .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
        .args(["-e", "frame.interface_id"])
        .output()
        .expect("tshark");
    assert!(
        o.status.success(),
        "tshark -r {}: {}",
        p.display(),
        stderr(&o)
    );
    stdout(&o).lines().map(str::to_string).collect()
}

/// The packets capinfos counts in `p` (it must read the file).
pub fn capinfos_packets(p: &Path) -> u64 {
    let o = Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(p)
        .output()
        .expect("capinfos");
    assert!(
        o.status.success(),
        "capinfos {}: {}",
        p.display(),
        stderr(&o)
    );
    stdout(&o)
        .lines()
        .filter_map(|l| l.strip_prefix("Number of packets:"))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .sum()
}

/// The pcapng pieces a split wrote, in order.
pub fn pieces(dir: &Path) -> Vec<PathBuf> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".pcapng"))
        .map(|n| dir.join(n))
        .collect()
}

/// `data` with every SHB's Section Length set to -1 (what join gives back
/// when the original's SHBs said otherwise).
pub fn unknown_section_lengths(mut data: Vec<u8>) -> Vec<u8> {
    let (mut at, mut big) = (0usize, false);
    while at + 12 <= data.len() {
        if data[at..at + 4] == [0x0a, 0x0d, 0x0d, 0x0a] {
            big = data[at + 8..at + 12] == [0x1a, 0x2b, 0x3c, 0x4d];
            data[at + 16..at + 24].copy_from_slice(&[0xff; 8]);
        }
        let l: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
        at += if big {
            u32::from_be_bytes(l)
        } else {
            u32::from_le_bytes(l)
        } as usize;
    }
    data
}
