//! The `where` command: where peripherals live on the running board, from
//! the device tree (`/proc/device-tree`) and `/proc/iomem`.
//!
//! Device tree: every node with a `reg` property, its `compatible`
//! strings, and each (base, size) pair translated to a CPU physical
//! address through the `ranges` of every bus above it (an empty `ranges`
//! is a 1:1 mapping; a bus without `ranges` is not memory-mapped, so its
//! children are not listed). Cell counts come from the nearest ancestor's
//! `#address-cells`/`#size-cells` (Linux's rule; 1 and 1 when none says),
//! and cells are big-endian (`u32::from_be_bytes`).
//!
//! `/proc/iomem` says which driver claimed a range: that is why a kernel
//! with `CONFIG_IO_STRICT_DEVMEM` refuses it through /dev/mem.

use super::regmap::find;
use crate::error::{Error, Result};
use crate::num::parse_num;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const IOMEM: &str = "/proc/iomem";

#[derive(Debug, Clone, Default)]
pub struct WhereOpts {
    /// The device-tree root (else `$MMKIT_DT_ROOT`, else /proc/device-tree).
    pub dt_root: Option<PathBuf>,
    /// The iomem file (else `$MMKIT_IOMEM`, else /proc/iomem).
    pub iomem: Option<PathBuf>,
    /// A register map to resolve NAME (else the usual search; none is fine).
    pub map: Option<PathBuf>,
    /// ADDR or NAME; None lists everything.
    pub query: Option<String>,
}

/// One `reg` entry of a device-tree node, as a CPU physical range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtRegion {
    /// Node path from the root, e.g. `/pl011@9000000`.
    pub node: String,
    pub compatible: Vec<String>,
    pub base: u64,
    pub size: u64,
    /// `status` is absent, "okay" or "ok".
    pub enabled: bool,
}

/// One line of /proc/iomem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IomemEntry {
    pub start: u64,
    pub end: u64,
    pub name: String,
    /// Nesting level (two spaces each); > 0: requested inside its parent.
    pub depth: usize,
}

#[derive(Debug, Clone, Default)]
pub struct WhereReport {
    pub dt: Vec<DtRegion>,
    pub iomem: Vec<IomemEntry>,
    /// Register map names (BLOCK or BLOCK.REG) at the address asked for.
    pub names: Vec<String>,
}

/// How a bus maps its children's addresses into its parent's space.
#[derive(Debug, Clone)]
enum Ranges {
    /// No `ranges`: the children are not memory-mapped (i2c, spi, cpus…).
    None,
    /// Empty `ranges`: same addresses.
    Identity,
    /// (child address, parent address, size).
    Map(Vec<(u64, u64, u64)>),
}

#[derive(Debug, Clone)]
struct Bus {
    addr_cells: usize,
    size_cells: usize,
    ranges: Ranges,
    /// An ISA bus (node name `isa`, as Linux decides): a first cell with
    /// bit 0 set is an I/O port, not a memory address.
    isa: bool,
}

fn read_cells(b: &[u8]) -> Option<Vec<u32>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

fn prop_u32(dir: &Path, name: &str) -> Option<usize> {
    let b = std::fs::read(dir.join(name)).ok()?;
    read_cells(&b)?.first().map(|v| *v as usize)
}

/// One or two cells as one number (more: a PCI-style address, not a CPU
/// address; skipped).
fn number(cells: &[u32]) -> Option<u64> {
    if cells.len() > 2 {
        return None;
    }
    Some(cells.iter().fold(0u64, |a, c| (a << 32) | u64::from(*c)))
}

fn strings(b: &[u8]) -> Vec<String> {
    b.split(|c| *c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Translate `a` from the address space of `chain.last()`'s children up to
/// the CPU; None when a bus on the way is not memory-mapped.
fn translate(mut a: u64, chain: &[Bus]) -> Option<u64> {
    // chain[0] is the root: its children's addresses are CPU addresses.
    for bus in chain.iter().skip(1).rev() {
        a = match &bus.ranges {
            Ranges::None => return None,
            Ranges::Identity => a,
            Ranges::Map(m) => m
                .iter()
                .find(|(c, _, s)| a >= *c && a - *c < *s)
                .and_then(|(c, p, _)| (a - c).checked_add(*p))?,
        };
    }
    Some(a)
}

/// Every memory-mapped `reg` range under the device-tree directory `root`,
/// sorted by base.
pub fn dt_regions(root: &Path) -> Result<Vec<DtRegion>> {
    if !root.is_dir() {
        return Err(Error::usage(format!(
            "no device tree at {} (a board without one, or not mounted)",
            root.display()
        )));
    }
    let top = Bus {
        addr_cells: prop_u32(root, "#address-cells").unwrap_or(1),
        size_cells: prop_u32(root, "#size-cells").unwrap_or(1),
        ranges: Ranges::Identity,
        isa: false,
    };
    let mut out = Vec::new();
    walk(root, "", &mut vec![top], &mut out, 0);
    out.sort_by(|a, b| (a.base, &a.node).cmp(&(b.base, &b.node)));
    Ok(out)
}

fn walk(dir: &Path, path: &str, chain: &mut Vec<Bus>, out: &mut Vec<DtRegion>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut kids: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    kids.sort();
    let Some(bus) = chain.last().cloned() else {
        return;
    };
    for (name, kdir) in kids {
        let node = format!("{path}/{name}");
        if let Ok(reg) = std::fs::read(kdir.join("reg"))
            && let Some(cells) = read_cells(&reg)
        {
            let per = bus.addr_cells + bus.size_cells;
            let compatible = std::fs::read(kdir.join("compatible"))
                .map(|b| strings(&b))
                .unwrap_or_default();
            let enabled = std::fs::read(kdir.join("status")).map_or(true, |s| {
                matches!(strings(&s).first().map(String::as_str), Some("okay" | "ok"))
            });
            if per > 0 && bus.size_cells > 0 && cells.len().is_multiple_of(per) {
                for e in cells.chunks_exact(per) {
                    let (a, s) = e.split_at(bus.addr_cells);
                    if bus.isa && a.first().is_some_and(|c| c & 1 != 0) {
                        continue; // an ISA I/O port
                    }
                    let (Some(a), Some(s)) = (number(a), number(s)) else {
                        continue;
                    };
                    let Some(base) = translate(a, chain) else {
                        continue;
                    };
                    let size = s;
                    out.push(DtRegion {
                        node: node.clone(),
                        compatible: compatible.clone(),
                        base,
                        size,
                        enabled,
                    });
                }
            }
        }
        if depth < 32 {
            let ac = prop_u32(&kdir, "#address-cells").unwrap_or(bus.addr_cells);
            let sc = prop_u32(&kdir, "#size-cells").unwrap_or(bus.size_cells);
            let ranges = match std::fs::read(kdir.join("ranges")) {
                Err(_) => Ranges::None,
                Ok(b) if b.is_empty() => Ranges::Identity,
                Ok(b) => {
                    let per = ac + bus.addr_cells + sc;
                    match read_cells(&b) {
                        Some(c) if per > 0 && c.len().is_multiple_of(per) => Ranges::Map(
                            c.chunks_exact(per)
                                .filter_map(|e| {
                                    let (ch, rest) = e.split_at(ac);
                                    let (pa, sz) = rest.split_at(bus.addr_cells);
                                    Some((number(ch)?, number(pa)?, number(sz)?))
                                })
                                .collect(),
                        ),
                        _ => Ranges::None,
                    }
                }
            };
            chain.push(Bus {
                addr_cells: ac,
                size_cells: sc,
                ranges,
                isa: name.split('@').next() == Some("isa"),
            });
            walk(&kdir, &node, chain, out, depth + 1);
            chain.pop();
        }
    }
}

/// Parse /proc/iomem text (`  09000000-09000fff : 9000000.pl011`).
pub fn parse_iomem(text: &str) -> Vec<IomemEntry> {
    let mut v = Vec::new();
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let Some((range, name)) = line.trim().split_once(" : ") else {
            continue;
        };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        v.push(IomemEntry {
            start,
            end,
            name: name.to_string(),
            depth: indent / 2,
        });
    }
    v
}

fn root_of(opt: &Option<PathBuf>, var: &str, default: &str) -> PathBuf {
    opt.clone()
        .or_else(|| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(default))
}

fn wr(out: &mut dyn Write, args: std::fmt::Arguments) -> Result<()> {
    match writeln!(out, "{args}") {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("cannot write output", e)),
    }
}

fn dt_line(r: &DtRegion) -> String {
    format!(
        "0x{:08X} +0x{:<6X} {}{}  {}",
        r.base,
        r.size,
        r.node,
        if r.enabled { "" } else { " (disabled)" },
        r.compatible.join(" ")
    )
}

fn iomem_line(e: &IomemEntry) -> String {
    format!(
        "{:indent$}{:08x}-{:08x} : {}",
        "",
        e.start,
        e.end,
        e.name,
        indent = e.depth * 2
    )
}

/// Run `where`.
pub fn where_is(o: &WhereOpts, out: &mut dyn Write) -> Result<WhereReport> {
    let dt_root = root_of(&o.dt_root, "MMKIT_DT_ROOT", find::DT_ROOT);
    let iomem_path = root_of(&o.iomem, "MMKIT_IOMEM", IOMEM);
    let dt = match dt_regions(&dt_root) {
        Ok(d) => d,
        Err(e) => {
            log::info!("{}", e.msg);
            Vec::new()
        }
    };
    let iomem = match std::fs::read_to_string(&iomem_path) {
        Ok(t) => parse_iomem(&t),
        Err(e) => {
            log::info!("cannot read {}: {e}", iomem_path.display());
            Vec::new()
        }
    };
    let hidden = !iomem.is_empty() && iomem.iter().all(|e| e.start == 0 && e.end == 0);
    let mut rep = WhereReport::default();
    let Some(q) = o.query.as_deref() else {
        wr(out, format_args!("device tree ({}):", dt_root.display()))?;
        for r in &dt {
            wr(out, format_args!("  {}", dt_line(r)))?;
        }
        wr(out, format_args!("{}:", iomem_path.display()))?;
        for e in &iomem {
            wr(out, format_args!("  {}", iomem_line(e)))?;
        }
        if hidden {
            wr(
                out,
                format_args!("  (all addresses are 0: only root sees them)"),
            )?;
        }
        rep.dt = dt;
        rep.iomem = iomem;
        return Ok(rep);
    };
    // ADDR, or a register-map name, or words in node names and compatibles.
    let map = crate::regs::regmap::find::load(o.map.as_deref()).ok();
    let mut addr = parse_num(q).ok();
    if addr.is_none()
        && let Some(m) = &map
        && let Ok(n) = m.lookup(q)
    {
        addr = Some(n.reg.map_or(n.block.base, |r| n.block.addr(r)));
    }
    if let Some(a) = addr {
        wr(out, format_args!("0x{a:08X}:"))?;
        rep.dt = dt
            .into_iter()
            .filter(|r| a >= r.base && a - r.base < r.size)
            .collect();
        for r in &rep.dt {
            wr(
                out,
                format_args!("  device tree: {} (offset 0x{:X})", dt_line(r), a - r.base),
            )?;
        }
        rep.iomem = iomem
            .into_iter()
            .filter(|e| a >= e.start && a <= e.end)
            .collect();
        for e in &rep.iomem {
            wr(out, format_args!("  iomem: {}", iomem_line(e).trim_start()))?;
        }
        if let Some(e) = rep.iomem.iter().rev().find(|e| e.name != "System RAM") {
            let who = if e.depth > 0 {
                "claimed by"
            } else {
                "registered as"
            };
            wr(
                out,
                format_args!(
                    "  {who} '{}': if a driver holds it, CONFIG_IO_STRICT_DEVMEM makes /dev/mem refuse it (boot with iomem=relaxed, or unbind the driver)",
                    e.name
                ),
            )?;
        }
        if let Some(m) = &map {
            for (b, r) in m.matching(None) {
                let ra = b.addr(r);
                if a >= ra && a - ra < r.width.bytes() as u64 {
                    rep.names.push(format!("{}.{}", b.name, r.name));
                }
            }
            for n in &rep.names {
                wr(out, format_args!("  register map: {n}"))?;
            }
        }
        if rep.dt.is_empty() && rep.iomem.is_empty() {
            wr(
                out,
                format_args!("  not in the device tree nor in /proc/iomem: no known device here"),
            )?;
        }
        if hidden {
            wr(
                out,
                format_args!("  (/proc/iomem shows addresses to root only)"),
            )?;
        }
        return Ok(rep);
    }
    let ql = q.to_ascii_lowercase();
    let hit = |s: &str| s.to_ascii_lowercase().contains(&ql);
    rep.dt = dt
        .into_iter()
        .filter(|r| hit(&r.node) || r.compatible.iter().any(|c| hit(c)))
        .collect();
    rep.iomem = iomem.into_iter().filter(|e| hit(&e.name)).collect();
    for r in &rep.dt {
        wr(out, format_args!("device tree: {}", dt_line(r)))?;
    }
    for e in &rep.iomem {
        wr(out, format_args!("iomem: {}", iomem_line(e).trim_start()))?;
    }
    if rep.dt.is_empty() && rep.iomem.is_empty() {
        return Err(Error::usage(format!(
            "'{q}' matches no device-tree node, compatible string, /proc/iomem entry or register map name"
        )));
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|c| c.to_be_bytes()).collect()
    }

    /// A node directory with properties.
    fn node(dir: &Path, props: &[(&str, Vec<u8>)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (k, v) in props {
            std::fs::write(dir.join(k), v).unwrap();
        }
    }

    /// A fake device tree: ARM-virt-like root (2/2 cells), a simple-bus
    /// with 1/1 cells and a translating `ranges`, an i2c bus without
    /// `ranges`, a node with two `reg` entries and a disabled node.
    fn fake_tree(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mmkit-dt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        node(
            &d,
            &[
                ("#address-cells", cells(&[2])),
                ("#size-cells", cells(&[2])),
                ("compatible", b"linux,dummy-virt\0".to_vec()),
            ],
        );
        node(
            &d.join("pl011@9000000"),
            &[
                ("reg", cells(&[0, 0x0900_0000, 0, 0x1000])),
                ("compatible", b"arm,pl011\0arm,primecell\0".to_vec()),
            ],
        );
        node(
            &d.join("intc@8000000"),
            &[(
                "reg",
                cells(&[0, 0x0800_0000, 0, 0x10000, 0, 0x0801_0000, 0, 0x10000]),
            )],
        );
        node(
            &d.join("soc"),
            &[
                ("#address-cells", cells(&[1])),
                ("#size-cells", cells(&[1])),
                // child 0x0..0x10000000 -> parent (2 cells) 0x1_4000_0000
                ("ranges", cells(&[0, 1, 0x4000_0000, 0x1000_0000])),
            ],
        );
        node(
            &d.join("soc/uart@1000"),
            &[
                ("reg", cells(&[0x1000, 0x100])),
                ("compatible", b"ns16550a\0".to_vec()),
            ],
        );
        node(
            &d.join("soc/gpio@2000"),
            &[
                ("reg", cells(&[0x2000, 0x100])),
                ("status", b"disabled\0".to_vec()),
            ],
        );
        node(
            &d.join("soc/i2c@3000"),
            &[
                ("reg", cells(&[0x3000, 0x100])),
                ("#address-cells", cells(&[1])),
                ("#size-cells", cells(&[0])),
            ],
        );
        node(
            &d.join("soc/i2c@3000/eeprom@50"),
            &[("reg", cells(&[0x50]))],
        );
        // Malta's ISA bus: I/O ports (first cell 1) are not memory
        node(
            &d.join("isa"),
            &[
                ("#address-cells", cells(&[2])),
                ("#size-cells", cells(&[1])),
                ("ranges", cells(&[1, 0, 0, 0, 0x1000])),
            ],
        );
        node(&d.join("isa/rtc@70"), &[("reg", cells(&[1, 0x70, 8]))]);
        d
    }

    #[test]
    fn device_tree_regions_with_ranges_and_cells() {
        let d = fake_tree("regions");
        let r = dt_regions(&d).unwrap();
        let got: Vec<(String, u64, u64, bool)> = r
            .iter()
            .map(|r| (r.node.clone(), r.base, r.size, r.enabled))
            .collect();
        assert_eq!(
            got,
            [
                ("/intc@8000000".into(), 0x0800_0000, 0x10000, true),
                ("/intc@8000000".into(), 0x0801_0000, 0x10000, true),
                ("/pl011@9000000".into(), 0x0900_0000, 0x1000, true),
                ("/soc/uart@1000".into(), 0x1_4000_1000, 0x100, true),
                ("/soc/gpio@2000".into(), 0x1_4000_2000, 0x100, false),
                ("/soc/i2c@3000".into(), 0x1_4000_3000, 0x100, true),
            ]
        );
        assert_eq!(r[2].compatible, ["arm,pl011", "arm,primecell"]);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn where_an_address_is() {
        let d = fake_tree("query");
        let io = d.join("iomem");
        std::fs::write(
            &io,
            "09000000-09000fff : 9000000.pl011\n  09000000-09000fff : uart-pl011\n40000000-4fffffff : System RAM\n",
        )
        .unwrap();
        let mut o = WhereOpts {
            dt_root: Some(d.clone()),
            iomem: Some(io.clone()),
            map: Some(d.join("no-map.regs")),
            query: Some("0x09000018".into()),
        };
        let mut out = Vec::new();
        let rep = where_is(&o, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(rep.dt.len(), 1, "{text}");
        assert_eq!(rep.iomem.len(), 2, "{text}");
        assert!(text.contains("/pl011@9000000"), "{text}");
        assert!(text.contains("offset 0x18"), "{text}");
        assert!(text.contains("claimed by 'uart-pl011'"), "{text}");
        // by name: node name or compatible
        o.query = Some("ns16550".into());
        let rep = where_is(&o, &mut Vec::new()).unwrap();
        assert_eq!(rep.dt[0].base, 0x1_4000_1000);
        o.query = Some("nothing-like-this".into());
        assert!(where_is(&o, &mut Vec::new()).is_err());
        // everything
        o.query = None;
        let rep = where_is(&o, &mut Vec::new()).unwrap();
        assert_eq!((rep.dt.len(), rep.iomem.len()), (6, 3));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn iomem_lines() {
        let v = parse_iomem(
            "00000000-0fffffff : System RAM\n  00100000-0094ffff : Kernel code\nbad line\n",
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].start, 0x100000);
        assert_eq!(v[1].end, 0x94ffff);
        assert_eq!(v[1].depth, 1);
        assert_eq!(v[1].name, "Kernel code");
    }
}
