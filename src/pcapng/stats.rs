//! `check` statistics: per-block-type counts, interfaces (link type, snaplen,
//! timestamp resolution and offset), packets, timestamp range, damage.

use std::collections::BTreeMap;
use std::fmt;

use super::block::{Damage, Walker, options};
use super::{EPB, Endian, IDB, PB, SHB, SPB};

/// Timestamp resolution of an interface (option if_tsresol, code 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResol {
    /// 10^-n seconds per unit (the default is 10^-6).
    Pow10(u8),
    /// 2^-n seconds per unit.
    Pow2(u8),
}

impl fmt::Display for TsResol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsResol::Pow10(n) => write!(f, "10^-{n} s"),
            TsResol::Pow2(n) => write!(f, "2^-{n} s"),
        }
    }
}

impl Default for TsResol {
    fn default() -> Self {
        TsResol::Pow10(6)
    }
}

impl TsResol {
    /// Decodes the option byte: most significant bit set means a power of 2.
    pub fn from_option(b: u8) -> Self {
        if b & 0x80 != 0 {
            TsResol::Pow2(b & 0x7f)
        } else {
            TsResol::Pow10(b)
        }
    }

    /// Units per second, `None` when it does not fit 128 bits (10^39 and up).
    pub fn units_per_sec(self) -> Option<u128> {
        match self {
            TsResol::Pow10(n) => 10u128.checked_pow(u32::from(n)),
            TsResol::Pow2(n) => 1u128.checked_shl(u32::from(n)),
        }
    }

    /// The time `ticks` units after the epoch, shifted by `offset` seconds.
    pub fn timestamp(self, ticks: u64, offset: i64) -> Option<Timestamp> {
        let units = self.units_per_sec().filter(|&u| u > 0)?;
        let t = u128::from(ticks);
        let secs = i64::try_from(t / units).ok()?.checked_add(offset)?;
        // t % units < 2^64, so the product fits 128 bits.
        let nanos = u32::try_from((t % units) * 1_000_000_000 / units).ok()?;
        Some(Timestamp { secs, nanos })
    }
}

/// Seconds and nanoseconds since the epoch (nanoseconds truncated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

/// One Interface Description Block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Section number, from 0.
    pub section: u64,
    /// Interface ID inside its section (what packet blocks refer to).
    pub local_id: u32,
    pub link_type: u16,
    /// 0 means no limit.
    pub snaplen: u32,
    pub tsresol: TsResol,
    /// if_tsoffset (code 14): seconds added to every timestamp.
    pub tsoffset: i64,
    /// Packet blocks that refer to it.
    pub packets: u64,
}

/// What `check` learns from one packet block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    pub offset: u64,
    pub block_type: u32,
    /// Interface number across sections (as Wireshark numbers them; an
    /// index into [`Stats::interfaces`] below [`DETAILED`]); `None` when the
    /// block names an undefined interface.
    pub interface: Option<u64>,
    /// `None` for a Simple Packet Block (it has no timestamp).
    pub ts: Option<Timestamp>,
    pub cap_len: u32,
    pub orig_len: u32,
}

/// Interfaces described in [`Stats::interfaces`]; the rest are counted
/// (a capture may have a million: memory stays flat).
pub const DETAILED: usize = 64;

/// What the interfaces past the first [`DETAILED`] share, for their
/// packets' timestamps and capture lengths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Rest {
    #[default]
    None,
    /// All of them so far: tsresol, tsoffset, snaplen.
    Same(TsResol, i64, u32),
    /// They differ: their packets' timestamps are left out.
    Mixed,
}

/// Statistics of a walked pcapng file.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Blocks per type.
    pub blocks: BTreeMap<u32, u64>,
    pub sections: u64,
    /// The first [`DETAILED`] interfaces, across sections.
    pub interfaces: Vec<Interface>,
    /// Interfaces described, all of them.
    pub interface_count: u64,
    /// Packets on interfaces past the first [`DETAILED`].
    pub rest_packets: u64,
    /// Of those, the packets whose timestamps are left out of the range
    /// (their interfaces' resolutions or offsets differ).
    pub untimed_packets: u64,
    /// EPB + SPB + PB.
    pub packets: u64,
    /// Packet blocks naming an interface the section has not described.
    pub orphan_packets: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// Bytes of whole, valid blocks.
    pub valid_bytes: u64,
    /// The first damage and its byte offset (the walk stops there).
    pub damage: Option<(u64, Damage)>,
    /// Interface number of the section's first interface, and how many it has.
    section_start: u64,
    section_count: u64,
    rest: Rest,
    endian: Option<Endian>,
}

impl Stats {
    pub fn new() -> Self {
        Self::default()
    }

    /// Walks `data` (a whole file or piece) and gathers its statistics.
    pub fn of(data: &[u8], max: u32) -> Stats {
        let mut s = Stats::new();
        for item in Walker::new(data, 0, max) {
            match item {
                Ok(b) => {
                    s.feed(b.offset, b.header.block_type, b.bytes);
                }
                Err((off, d)) => s.damage = Some((off, d)),
            }
        }
        s
    }

    /// Blocks of type `t` seen.
    pub fn count(&self, t: u32) -> u64 {
        self.blocks.get(&t).copied().unwrap_or(0)
    }

    /// Feeds a whole, valid block; returns what it says about a packet.
    pub fn feed(&mut self, offset: u64, block_type: u32, bytes: &[u8]) -> Option<PacketInfo> {
        self.feed_sized(offset, block_type, bytes.len() as u64, bytes)
    }

    /// [`Stats::feed`] for a walk that does not hold whole packet blocks:
    /// `len` is the block's total length; `bytes` is the whole block for an
    /// SHB or IDB, and at least the first 28 bytes of a packet block.
    pub fn feed_sized(
        &mut self,
        offset: u64,
        block_type: u32,
        len: u64,
        bytes: &[u8],
    ) -> Option<PacketInfo> {
        *self.blocks.entry(block_type).or_insert(0) += 1;
        self.valid_bytes += len;
        if block_type == SHB {
            self.endian = bytes
                .get(8..12)
                .and_then(|b| b.try_into().ok())
                .and_then(Endian::from_bom);
            self.section_start = self.interface_count;
            self.section_count = 0;
            self.sections += 1;
            return None;
        }
        let e = self.endian?;
        match block_type {
            IDB => {
                self.add_interface(e, bytes);
                None
            }
            EPB | PB | SPB => {
                let p = self.packet(e, offset, block_type, len, bytes)?;
                self.packets += 1;
                match p.interface.and_then(|i| usize::try_from(i).ok()) {
                    Some(i) if i < self.interfaces.len() => self.interfaces[i].packets += 1,
                    Some(_) => {
                        self.rest_packets += 1;
                        if self.rest == Rest::Mixed && block_type != SPB {
                            self.untimed_packets += 1;
                        }
                    }
                    None => self.orphan_packets += 1,
                }
                if let Some(ts) = p.ts {
                    self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
                    self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
                }
                Some(p)
            }
            _ => None,
        }
    }

    fn add_interface(&mut self, e: Endian, b: &[u8]) {
        let mut ifc = Interface {
            section: self.sections.saturating_sub(1),
            local_id: self.section_count.min(u64::from(u32::MAX)) as u32,
            link_type: e.u16_at(b, 8).unwrap_or(0),
            snaplen: e.u32_at(b, 12).unwrap_or(0),
            tsresol: TsResol::default(),
            tsoffset: 0,
            packets: 0,
        };
        for (code, v) in options(b, 16, e) {
            match (code, v) {
                (9, [r]) => ifc.tsresol = TsResol::from_option(*r),
                (14, _) => {
                    if let Some(o) = e.u64_at(v, 0) {
                        ifc.tsoffset = o as i64;
                    }
                }
                _ => {}
            }
        }
        self.interface_count += 1;
        self.section_count += 1;
        if self.interfaces.len() < DETAILED {
            self.interfaces.push(ifc);
            return;
        }
        let this = Rest::Same(ifc.tsresol, ifc.tsoffset, ifc.snaplen);
        self.rest = match self.rest {
            Rest::None => this,
            r if r == this => r,
            _ => Rest::Mixed,
        };
    }

    fn packet(&self, e: Endian, offset: u64, t: u32, len: u64, b: &[u8]) -> Option<PacketInfo> {
        let (local, ts_at, cap, orig) = match t {
            EPB => (
                e.u32_at(b, 8)?,
                Some(12),
                e.u32_at(b, 20)?,
                e.u32_at(b, 24)?,
            ),
            PB => (
                u32::from(e.u16_at(b, 8)?),
                Some(12),
                e.u32_at(b, 20)?,
                e.u32_at(b, 24)?,
            ),
            _ => {
                let orig = e.u32_at(b, 8)?;
                (
                    0,
                    None,
                    orig.min(len.saturating_sub(16).min(u64::from(u32::MAX)) as u32),
                    orig,
                )
            }
        };
        let interface =
            (u64::from(local) < self.section_count).then(|| self.section_start + u64::from(local));
        // Resolution, offset and snaplen: described, or shared by the rest.
        let params = match interface.map(|i| usize::try_from(i).map(|i| self.interfaces.get(i))) {
            Some(Ok(Some(i))) => Some((i.tsresol, i.tsoffset, i.snaplen)),
            Some(_) => match self.rest {
                Rest::Same(r, o, s) => Some((r, o, s)),
                _ => None,
            },
            None => None,
        };
        let cap_len = match (t, params) {
            (SPB, Some((_, _, snap))) if snap > 0 => cap.min(snap),
            _ => cap,
        };
        let ts = match (ts_at, params) {
            (Some(at), Some((r, o, _))) => {
                let ticks = (u64::from(e.u32_at(b, at)?) << 32) | u64::from(e.u32_at(b, at + 4)?);
                r.timestamp(ticks, o)
            }
            _ => None,
        };
        Some(PacketInfo {
            offset,
            block_type: t,
            interface,
            ts,
            cap_len,
            orig_len: orig,
        })
    }
}

/// A short name for a block type.
pub fn type_name(t: u32) -> String {
    match t {
        SHB => "SHB".into(),
        IDB => "IDB".into(),
        PB => "PB (obsolete)".into(),
        SPB => "SPB".into(),
        super::NRB => "NRB".into(),
        super::ISB => "ISB".into(),
        EPB => "EPB".into(),
        super::DSB => "DSB".into(),
        super::CUSTOM_COPY => "custom".into(),
        super::CUSTOM_NO_COPY => "custom (do not copy)".into(),
        _ => format!("type {t:#010x}"),
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sections: {}", self.sections)?;
        for (t, n) in &self.blocks {
            writeln!(f, "blocks {}: {n}", type_name(*t))?;
        }
        for (i, ifc) in self.interfaces.iter().enumerate() {
            writeln!(
                f,
                "interface {i} (section {} id {}): link type {}, snaplen {}, resolution {}, {} packets",
                ifc.section, ifc.local_id, ifc.link_type, ifc.snaplen, ifc.tsresol, ifc.packets
            )?;
        }
        writeln!(f, "packets: {}", self.packets)?;
        if let (Some(a), Some(b)) = (self.first_ts, self.last_ts) {
            writeln!(f, "timestamps: {a} .. {b}")?;
        }
        match &self.damage {
            Some((off, d)) => writeln!(f, "damage at offset {off}: {d}"),
            None => writeln!(f, "clean"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{DSB, ISB, NRB};
    use super::*;

    const MAX: u32 = super::super::DEFAULT_MAX_BLOCK;

    #[test]
    fn resolutions() {
        assert_eq!(TsResol::from_option(6), TsResol::Pow10(6));
        assert_eq!(TsResol::from_option(0x8a), TsResol::Pow2(10));
        let t = TsResol::Pow10(9).timestamp(1_700_000_000_123_456_789, 0);
        assert_eq!(
            t.map(|t| t.to_string()).as_deref(),
            Some("1700000000.123456789")
        );
        // 2^-10: 1.5 s = 1536 units.
        assert_eq!(
            TsResol::Pow2(10).timestamp(1536, 0),
            Some(Timestamp {
                secs: 1,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            TsResol::Pow10(3).timestamp(2500, 100).map(|t| t.secs),
            Some(102)
        );
        assert_eq!(TsResol::Pow10(40).timestamp(1, 0), None);
        assert_eq!(
            TsResol::Pow2(127).timestamp(u64::MAX, 0).map(|t| t.secs),
            Some(0)
        );
    }

    #[test]
    fn counts_interfaces_packets_and_range_across_byte_orders() {
        let mut f = Vec::new();
        for e in [Endian::Big, Endian::Little] {
            f.extend(shb(e, -1, &[]));
            f.extend(idb(e, 1, 65535, &[]));
            // ns resolution and an odd-length option before it (odd offsets follow).
            f.extend(idb(e, 105, 256, &[(2, b"wlan0".to_vec()), (9, vec![9])]));
            f.extend(dsb(e, b"s"));
            f.extend(epb(e, 0, 1_000_000, b"a", &[]));
            f.extend(epb(e, 1, 3_000_000_000, b"bb", &[]));
            f.extend(spb(e, 1000, &[0; 300]));
            f.extend(pb(e, 0, 5_000_000, b"ccc"));
            f.extend(isb(e, 0, 6_000_000));
            f.extend(nrb(e));
            f.extend(epb(e, 7, 0, b"orphan", &[]));
            f.extend(custom_copy(e));
        }
        let s = Stats::of(&f, MAX);
        assert_eq!(s.damage, None);
        assert_eq!(s.valid_bytes, f.len() as u64);
        assert_eq!(s.sections, 2);
        assert_eq!((s.count(SHB), s.count(IDB), s.count(EPB)), (2, 4, 6));
        assert_eq!((s.count(SPB), s.count(PB), s.count(ISB)), (2, 2, 2));
        assert_eq!(
            (
                s.count(NRB),
                s.count(DSB),
                s.count(super::super::CUSTOM_COPY)
            ),
            (2, 2, 2)
        );
        assert_eq!(s.packets, 10);
        assert_eq!(s.orphan_packets, 2);
        let links: Vec<_> = s
            .interfaces
            .iter()
            .map(|i| (i.section, i.local_id, i.link_type, i.snaplen))
            .collect();
        assert_eq!(
            links,
            [
                (0, 0, 1, 65535),
                (0, 1, 105, 256),
                (1, 0, 1, 65535),
                (1, 1, 105, 256)
            ]
        );
        assert_eq!(s.interfaces[1].tsresol, TsResol::Pow10(9));
        assert_eq!(s.interfaces[3].packets, 1);
        assert_eq!(s.interfaces[2].packets, 3, "EPB, SPB (interface 0) and PB");
        assert_eq!(s.first_ts, Some(Timestamp { secs: 1, nanos: 0 }));
        assert_eq!(s.last_ts, Some(Timestamp { secs: 5, nanos: 0 }));
        assert!(s.to_string().contains("link type 105"));
        // The same bytes at an odd address: every field read from a slice.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&f);
        let t = Stats::of(&shifted[1..], MAX);
        assert_eq!(
            (t.packets, t.first_ts, t.last_ts),
            (s.packets, s.first_ts, s.last_ts)
        );
        assert_eq!(t.interfaces, s.interfaces);
        // A truncated SPB handed in directly does not panic.
        let mut u = Stats::new();
        u.feed(0, SHB, &shb(Endian::Little, -1, &[]));
        u.feed(28, IDB, &idb(Endian::Little, 1, 0, &[]));
        assert_eq!(
            u.feed(48, SPB, &[3, 0, 0, 0, 12, 0, 0, 0, 9, 0, 0, 0])
                .map(|p| p.cap_len),
            Some(0)
        );
    }

    #[test]
    fn spb_capture_length_honours_snaplen_and_tsoffset_applies() {
        let e = Endian::Big;
        let mut f = shb(e, -1, &[]);
        f.extend(idb(
            e,
            1,
            64,
            &[(14, e.u64_bytes(1000).to_vec()), (9, vec![0x80 | 20])],
        ));
        f.extend(spb(e, 1500, &[0; 100]));
        f.extend(epb(e, 0, 3 << 20, b"x", &[]));
        let mut s = Stats::new();
        let infos: Vec<_> = Walker::new(&f, 0, MAX)
            .filter_map(|b| b.ok())
            .filter_map(|b| s.feed(b.offset, b.header.block_type, b.bytes))
            .collect();
        assert_eq!(
            (infos[0].cap_len, infos[0].orig_len, infos[0].ts),
            (64, 1500, None)
        );
        assert_eq!(
            infos[1].ts,
            Some(Timestamp {
                secs: 1003,
                nanos: 0
            })
        );
        assert_eq!(s.interfaces[0].tsoffset, 1000);
    }

    #[test]
    fn interfaces_past_the_first_64_are_counted_not_kept() {
        let e = Endian::Little;
        let mut f = shb(e, -1, &[]);
        for _ in 0..100 {
            f.extend(idb(e, 1, 0, &[(9, vec![3])]));
        }
        f.extend(epb(e, 0, 1000, b"a", &[]));
        // Past the described ones, with the same ms resolution: timed.
        f.extend(epb(e, 99, 5000, b"b", &[]));
        f.extend(epb(e, 100, 9000, b"orphan", &[]));
        let s = Stats::of(&f, MAX);
        assert_eq!((s.interfaces.len(), s.interface_count), (DETAILED, 100));
        assert_eq!((s.packets, s.rest_packets, s.orphan_packets), (3, 1, 1));
        assert_eq!(s.interfaces[0].packets, 1);
        assert_eq!(s.last_ts, Some(Timestamp { secs: 5, nanos: 0 }));
        assert_eq!(s.untimed_packets, 0);
        // One of them with another resolution: their packets are untimed.
        f.extend(idb(e, 1, 0, &[]));
        f.extend(epb(e, 70, 7000, b"c", &[]));
        f.extend(shb(e, -1, &[]));
        f.extend(idb(e, 1, 0, &[]));
        f.extend(epb(e, 0, 1, b"d", &[]));
        let s = Stats::of(&f, MAX);
        assert_eq!(
            (s.interface_count, s.rest_packets, s.untimed_packets),
            (102, 3, 2)
        );
        assert_eq!(s.last_ts, Some(Timestamp { secs: 5, nanos: 0 }));
        assert_eq!(s.interfaces.len(), DETAILED);
    }

    #[test]
    fn damage_is_reported_with_offset() {
        let e = Endian::Little;
        let mut f = shb(e, -1, &[]);
        f.extend(idb(e, 1, 0, &[]));
        let at = f.len() as u64;
        let mut b = epb(e, 0, 1, b"abc", &[]);
        b[4] = 0x2a; // total length 42: not a multiple of 4
        f.extend(b);
        let s = Stats::of(&f, MAX);
        assert_eq!(s.damage, Some((at, Damage::NotMultipleOf4 { len: 42 })));
        assert_eq!(s.valid_bytes, at);
        assert!(s.to_string().contains(&format!("damage at offset {at}")));
    }
}
