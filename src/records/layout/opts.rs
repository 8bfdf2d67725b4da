//! Layout choice from the command line, resolved against a file's first bytes.

use super::{
    DEFAULT_MAX_RECORD, Endian, Layout, LayoutKind, Magic, PCAP_MAGIC_NS, PCAP_MAGIC_US,
    PCAPNG_MAGIC,
};
use crate::error::{Error, Result};

/// Layout choice as given on the command line; [`LayoutOpts::resolve`]
/// turns it into a [`Layout`] once the file header is known.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayoutOpts {
    pub(crate) layout: LayoutKind,
    pub(crate) endian: Option<Endian>,
    pub(crate) len_includes_header: bool,
    pub(crate) header_len: Option<u64>,
    pub(crate) rec_header_len: Option<u64>,
    pub(crate) len_offset: Option<u64>,
    pub(crate) len_width: Option<u64>,
    pub(crate) len_endian: Option<Endian>,
    pub(crate) magic: Option<u64>,
    pub(crate) magic_offset: Option<u64>,
    pub(crate) magic_width: Option<u64>,
    pub(crate) no_magic: bool,
    pub(crate) max_record: Option<u64>,
    pub(crate) allow_empty: bool,
}

fn small(v: u64, what: &str) -> Result<usize> {
    if v > 1 << 24 {
        return Err(Error::usage(format!("{what} {v} is too large")));
    }
    Ok(v as usize)
}

/// The flag names whose condition holds.
fn named(flags: &[(bool, &'static str)]) -> Vec<&'static str> {
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| *f)
        .collect()
}

/// A field width: 1, 2, 4 or 8 bytes.
fn width(v: u64, what: &str) -> Result<u8> {
    match v {
        1 | 2 | 4 | 8 => Ok(v as u8),
        _ => Err(Error::usage(format!("{what} {v} must be 1, 2, 4 or 8"))),
    }
}

impl LayoutOpts {
    pub(crate) fn named(layout: LayoutKind) -> LayoutOpts {
        LayoutOpts {
            layout,
            ..Default::default()
        }
    }

    /// Resolve against the first bytes of the file (`head`, up to 24 bytes
    /// are enough for pcap detection; may be shorter for tiny files).
    pub(crate) fn resolve(&self, head: &[u8]) -> Result<Layout> {
        self.refuse_contradictions()?;
        let endian = self.endian.unwrap_or(Endian::Little);
        let is_pcap_magic = head.len() >= 4 && {
            let le = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let be = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
            [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAPNG_MAGIC].contains(&le)
                || [PCAP_MAGIC_US, PCAP_MAGIC_NS].contains(&be)
        };
        let name = match self.layout {
            LayoutKind::Auto => {
                if is_pcap_magic {
                    "pcap"
                } else if self.rec_header_len.is_some() {
                    "custom"
                } else {
                    "seed"
                }
            }
            LayoutKind::Seed => "seed",
            LayoutKind::Pcap => "pcap",
            LayoutKind::Pcapng => {
                return Err(Error::usage(
                    "pcapng is walked block by block; this command does not support it",
                ));
            }
            LayoutKind::Custom => "custom",
        };
        let mut l = match name {
            "pcap" => {
                let l = Layout::pcap_from_header(head)?;
                self.refuse_for_pcap()?;
                l
            }
            "seed" => Layout::seed(endian, self.len_includes_header),
            _ => {
                let (Some(h), Some(rh), Some(lo)) =
                    (self.header_len, self.rec_header_len, self.len_offset)
                else {
                    return Err(self.custom_incomplete());
                };
                Layout {
                    name: "custom",
                    header_len: small(h, "--header-len")?,
                    rec_header_len: small(rh, "--rec-header-len")?,
                    len_offset: small(lo, "--len-offset")?,
                    len_width: 4,
                    endian,
                    len_includes_header: self.len_includes_header,
                    magic: None,
                    seq_offset: None,
                    max_record: DEFAULT_MAX_RECORD,
                    allow_empty: false,
                    pcap_nanos: false,
                }
            }
        };
        if name == "seed" {
            // Geometry overrides on seed (e.g. a 137-byte file header).
            if let Some(h) = self.header_len {
                l.header_len = small(h, "--header-len")?;
            }
            if let Some(rh) = self.rec_header_len {
                l.rec_header_len = small(rh, "--rec-header-len")?;
            }
            if let Some(lo) = self.len_offset {
                l.len_offset = small(lo, "--len-offset")?;
            }
        }
        if name != "pcap" {
            // (pcap: flags it cannot honour were refused above)
            if let Some(w) = self.len_width {
                l.len_width = width(w, "--len-width")?;
            }
            if let Some(e) = self.len_endian {
                l.endian = e;
            }
            if self.magic.is_some() || self.magic_offset.is_some() || self.magic_width.is_some() {
                let base = l.magic.unwrap_or(Magic {
                    offset: 0,
                    width: 4,
                    value: 0,
                });
                let Some(value) = self.magic.or(l.magic.map(|m| m.value)) else {
                    return Err(Error::usage(
                        "--magic-offset/--magic-width need --magic VALUE",
                    ));
                };
                l.magic = Some(Magic {
                    offset: small(
                        self.magic_offset.unwrap_or(base.offset as u64),
                        "--magic-offset",
                    )?,
                    width: self
                        .magic_width
                        .map(|w| width(w, "--magic-width"))
                        .transpose()?
                        .unwrap_or(base.width),
                    value,
                });
            }
        }
        if self.no_magic {
            l.magic = None;
        }
        if let Some(m) = self.max_record {
            l.max_record = m;
        }
        if self.allow_empty {
            l.allow_empty = true;
        }
        l.validate()?;
        Ok(l)
    }

    /// Flags that contradict each other, whatever the layout: `--no-magic`
    /// beside a flag that describes the magic.
    pub(crate) fn refuse_contradictions(&self) -> Result<()> {
        if !self.no_magic {
            return Ok(());
        }
        let magic: Vec<&str> = named(&[
            (self.magic.is_some(), "--magic"),
            (self.magic_offset.is_some(), "--magic-offset"),
            (self.magic_width.is_some(), "--magic-width"),
        ]);
        if magic.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "--no-magic contradicts {}: give one or the other",
            magic.join(", ")
        )))
    }

    /// pcapng blocks carry their own lengths and byte order: refuse the
    /// record flags it would otherwise silently ignore (only `--max-record`
    /// applies).
    pub(crate) fn refuse_for_pcapng(&self) -> Result<()> {
        let set: Vec<&str> = named(&[
            (self.header_len.is_some(), "--header-len"),
            (self.rec_header_len.is_some(), "--rec-header-len"),
            (self.len_offset.is_some(), "--len-offset"),
            (self.len_width.is_some(), "--len-width"),
            (self.len_includes_header, "--len-includes-header"),
            (self.endian.is_some(), "--endian"),
            (self.len_endian.is_some(), "--len-endian"),
            (self.magic.is_some(), "--magic"),
            (self.magic_offset.is_some(), "--magic-offset"),
            (self.magic_width.is_some(), "--magic-width"),
            (self.no_magic, "--no-magic"),
            (self.allow_empty, "--allow-empty"),
        ]);
        if set.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "pcapng blocks carry their own lengths and byte order: drop the record geometry flags {} (only --max-record applies)",
            set.join(", ")
        )))
    }

    /// The pcap layout is fixed by its format and the file's magic: refuse
    /// every flag it would otherwise silently ignore.
    fn refuse_for_pcap(&self) -> Result<()> {
        let geometry: Vec<&str> = named(&[
            (self.header_len.is_some(), "--header-len"),
            (self.rec_header_len.is_some(), "--rec-header-len"),
            (self.len_offset.is_some(), "--len-offset"),
            (self.len_width.is_some(), "--len-width"),
            (self.len_includes_header, "--len-includes-header"),
        ]);
        if !geometry.is_empty() {
            return Err(Error::usage(format!(
                "the pcap record header is fixed (16 bytes, incl_len at offset 8 counting the payload only): drop {}, or use --layout custom",
                geometry.join(", ")
            )));
        }
        let from_file: Vec<&str> = named(&[
            (self.endian.is_some(), "--endian"),
            (self.len_endian.is_some(), "--len-endian"),
            (self.magic.is_some(), "--magic"),
            (self.magic_offset.is_some(), "--magic-offset"),
            (self.magic_width.is_some(), "--magic-width"),
        ]);
        if !from_file.is_empty() {
            return Err(Error::usage(format!(
                "pcap byte order and magic come from the file; drop {}",
                from_file.join(", ")
            )));
        }
        Ok(())
    }

    /// Why a custom layout (explicit, or implied by `--rec-header-len`)
    /// cannot be built: which flags are missing.
    fn custom_incomplete(&self) -> Error {
        let missing: Vec<&str> = named(&[
            (self.header_len.is_none(), "--header-len N"),
            (self.rec_header_len.is_none(), "--rec-header-len N"),
            (self.len_offset.is_none(), "--len-offset N"),
        ]);
        let msg = if self.layout == LayoutKind::Auto {
            format!(
                "--rec-header-len without --layout means a custom layout, which also needs {}",
                missing.join(" and ")
            )
        } else {
            format!("--layout custom also needs {}", missing.join(" and "))
        };
        Error::usage(msg).hint(
            "a custom layout is --header-len (file header bytes), --rec-header-len (record header bytes), --len-offset (where the length field is), optionally --len-width 1|2|4|8, --len-endian, --magic V or --no-magic; to change only the seed geometry say --layout seed --rec-header-len N",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_resolve_auto_seed_custom() {
        let seed = LayoutOpts::named(LayoutKind::Auto)
            .resolve(&[0u8; 136])
            .unwrap();
        assert_eq!(seed.name, "seed");
        let mut o = LayoutOpts::named(LayoutKind::Seed);
        o.header_len = Some(137);
        o.endian = Some(Endian::Big);
        let l = o.resolve(&[]).unwrap();
        assert_eq!((l.header_len, l.endian), (137, Endian::Big));
        let mut c = LayoutOpts::named(LayoutKind::Custom);
        assert!(c.resolve(&[]).is_err());
        c.header_len = Some(7);
        c.rec_header_len = Some(3);
        c.len_offset = Some(1);
        c.len_width = Some(2);
        c.len_endian = Some(Endian::Big);
        let l = c.resolve(&[]).unwrap();
        assert_eq!(
            (l.header_len, l.rec_header_len, l.len_width, l.endian),
            (7, 3, 2, Endian::Big)
        );
        assert!(l.magic.is_none());
        c.magic = Some(0xAB);
        c.magic_width = Some(1);
        assert_eq!(
            c.resolve(&[]).unwrap().magic,
            Some(Magic {
                offset: 0,
                width: 1,
                value: 0xAB
            })
        );
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&PCAP_MAGIC_US.to_be_bytes());
        h[4..8].copy_from_slice(&[0, 2, 0, 4]);
        let p = LayoutOpts::named(LayoutKind::Auto).resolve(&h).unwrap();
        assert_eq!((p.name, p.endian), ("pcap", Endian::Big));
        assert!("bogus".parse::<LayoutKind>().is_err());
    }
}
