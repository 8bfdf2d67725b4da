//! `check` on a pcapng file: block counts per type, interfaces, packets,
//! the timestamp range, and the first damage with its byte offset.

use super::{BlockWalk, max_block};
use crate::error::{Kind, Result};
use crate::pcapng::stats::type_name;
use crate::pcapng::{Endian, Stats, TsResol};
use crate::records::check::CheckReport;
use crate::records::input::Input;
use crate::records::layout::LayoutOpts;
use crate::ui::Progress;
use std::fmt::Write as _;

/// Walks `src` into `r` (damage goes in `r.problem`; I/O errors are returned).
pub(crate) fn check(src: &mut Input, lopts: &LayoutOpts, r: &mut CheckReport) -> Result<()> {
    let mut stats = Stats::new();
    let mut orders: Vec<Endian> = Vec::new();
    let mut w = BlockWalk::new(0, src.len(), max_block(lopts));
    let mut progress = Progress::new("check", src.len());
    let mut n = 0u32;
    loop {
        match w.next(src) {
            Ok(Some(b)) => {
                let t = b.header.block_type;
                if t == crate::pcapng::SHB && !orders.contains(&b.header.endian) {
                    orders.push(b.header.endian);
                }
                stats.feed_sized(b.offset, t, b.len(), w.bytes());
                n = n.wrapping_add(1);
                if n.is_multiple_of(4096) {
                    progress.update(b.end(), "");
                }
            }
            Ok(None) => break,
            Err(e) if e.kind == Kind::Malformed => {
                r.problem = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    progress.finish();
    r.layout = match orders.as_slice() {
        [Endian::Little] => "pcapng (little-endian)".into(),
        [Endian::Big] => "pcapng (big-endian)".into(),
        [] => "pcapng".into(),
        _ => "pcapng (sections of both byte orders)".into(),
    };
    r.records = stats.packets;
    r.record_bytes = stats.valid_bytes;
    r.details = Some(render(&stats));
    Ok(())
}

fn resol(t: TsResol) -> String {
    match t {
        TsResol::Pow10(n) => format!("10^-{n} s"),
        TsResol::Pow2(n) => format!("2^-{n} s"),
    }
}

/// The report lines (indented like the other layouts' reports).
fn render(s: &Stats) -> String {
    let mut o = String::new();
    let counts: Vec<String> = s
        .blocks
        .iter()
        .map(|(t, n)| format!("{} {n}", type_name(*t)))
        .collect();
    let _ = writeln!(o, "  sections: {}", s.sections);
    let _ = writeln!(
        o,
        "  blocks:   {} ({} bytes): {}",
        s.blocks.values().sum::<u64>(),
        s.valid_bytes,
        counts.join(", ")
    );
    let _ = writeln!(o, "  interfaces: {}", s.interface_count);
    for (i, ifc) in s.interfaces.iter().enumerate() {
        let _ = writeln!(
            o,
            "    #{i} (section {}, id {}): link type {}, snaplen {}, tsresol {}{}, {} packets",
            ifc.section,
            ifc.local_id,
            ifc.link_type,
            ifc.snaplen,
            resol(ifc.tsresol),
            if ifc.tsoffset != 0 {
                format!(", tsoffset {} s", ifc.tsoffset)
            } else {
                String::new()
            },
            ifc.packets
        );
    }
    let rest = s.interface_count - s.interfaces.len() as u64;
    if rest > 0 {
        let _ = writeln!(
            o,
            "    ... {rest} more interfaces ({} packets) are counted, not listed",
            s.rest_packets
        );
    }
    let _ = writeln!(o, "  packets:  {}", s.packets);
    if s.untimed_packets > 0 {
        let _ = writeln!(
            o,
            "  untimed:  {} packets of interfaces past #{} are left out of the time range (those interfaces' timestamp resolutions or offsets differ)",
            s.untimed_packets,
            crate::pcapng::stats::DETAILED - 1
        );
    }
    if s.orphan_packets > 0 {
        let _ = writeln!(
            o,
            "  orphans:  {} packets name an interface that was never described",
            s.orphan_packets
        );
    }
    if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
        let _ = writeln!(o, "  time:     {a} .. {b}");
    }
    o
}
