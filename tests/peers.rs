//! Real peers: pieces of a split pcap must be valid for Wireshark's capinfos,
//! and hold together exactly the packets tcpdump reads from the original.
//! .ci/run installs tcpdump and tshark (capinfos).

mod common;
use common::{TempDir, run, stderr};
use std::process::Command;

fn tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn capinfos_packets(path: &str) -> u64 {
    let o = Command::new("capinfos")
        .args(["-M", "-c", "-T", "-r", path])
        .output()
        .expect("capinfos");
    assert!(
        o.status.success(),
        "capinfos rejected {path}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = String::from_utf8_lossy(&o.stdout);
    // -T -r: one tab-separated line: file name, packet count
    s.lines()
        .last()
        .and_then(|l| l.split('\t').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("cannot parse capinfos output: {s}"))
}

fn tcpdump_packets(path: &str) -> u64 {
    let o = Command::new("tcpdump")
        .args(["-n", "-q", "-r", path])
        .output()
        .expect("tcpdump");
    assert!(
        o.status.success(),
        "tcpdump rejected {path}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).lines().count() as u64
}

#[test]
fn pcap_pieces_are_valid_for_capinfos_and_tcpdump() {
    if std::env::var_os("MMKIT_SKIP_PEERS").is_some() {
        eprintln!("SKIP: MMKIT_SKIP_PEERS is set");
        return;
    }
    assert!(
        tool("capinfos") && tool("tcpdump"),
        "install the peers: apt-get install -y tcpdump tshark"
    );
    let t = TempDir::new("peers");
    for (name, endian) in [("le.pcap", "le"), ("be.pcap", "be")] {
        let f = t.s(name);
        let o = run(&[
            "gen", &f, "--layout", "pcap", "--endian", endian, "--size", "6M",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let d = t.join(&format!("{name}.d"));
        std::fs::create_dir(&d).unwrap();
        let o = run(&["split", &f, "-o", &d.to_string_lossy(), "--size", "1MB"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let want = tcpdump_packets(&f);
        assert!(want > 1000);
        assert_eq!(capinfos_packets(&f), want);
        let mut got = 0;
        let mut n = 0;
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "manifest") {
                continue;
            }
            assert!(std::fs::metadata(&p).unwrap().len() <= 1_000_000);
            got += capinfos_packets(&p.to_string_lossy());
            n += 1;
        }
        assert!(n >= 6, "{n} pieces");
        assert_eq!(
            got, want,
            "{name}: pieces hold {got} packets, tcpdump reads {want} from the original"
        );
    }
}
