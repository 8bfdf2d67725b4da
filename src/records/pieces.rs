//! The pieces of a split as a set: their names, the leftovers of earlier
//! splits, and the manifest that lets `join` tell a complete, ordered set
//! from a wrong one.
//!
//! Pieces are named `PREFIX.NNNN.EXT`. Beside them split writes
//! `PREFIX.manifest`, a few lines of text: the input, the layout, whether the
//! split finished (`state complete`; a split that failed half-way leaves
//! `state incomplete`), and per piece its name, size, record count and the
//! fingerprints (FNV-1a 64) of its first and last record headers. A record
//! header holds a timestamp or a sequence number in every layout that has
//! one, so pieces of another capture with the same file header, duplicated,
//! missing, reordered or left over from an earlier split are told apart.
//! Writing it costs two small files per split, nothing per record.

use crate::error::{Context, Error, Kind, Result, ResultExt};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Piece names: `PREFIX.NNNN.EXT` where PREFIX defaults to the input name
/// without its last extension and EXT is that extension (if any).
pub(crate) fn name_parts(input: &Path, prefix: Option<&str>) -> (String, String) {
    let file = input
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match file.rfind('.') {
        Some(i) if i > 0 => (file[..i].to_string(), file[i..].to_string()),
        _ => (file.clone(), String::new()),
    };
    (prefix.map(str::to_string).unwrap_or(stem), ext)
}

/// Refuse a `--prefix` that would write outside the output directory or
/// make hidden files.
pub(crate) fn check_prefix(p: &str) -> Result<()> {
    if p.is_empty() || p.starts_with('.') || p.contains('/') || p.contains('\0') {
        return Err(Error::usage(format!(
            "bad --prefix '{p}': it must be a plain file name part (no '/', not empty, not starting with '.')"
        )));
    }
    Ok(())
}

/// Digits in piece numbers: at least 4, more when the file could need more
/// pieces. Any piece plus the next record exceeds the limit, so two
/// consecutive pieces hold more than `limit - header` bytes of records.
pub(crate) fn index_width(data_bytes: u64, limit: u64, header: u64) -> usize {
    let room = limit.saturating_sub(header).max(1);
    let bound = 2 * data_bytes.div_ceil(room) + 1;
    bound.to_string().len().max(4)
}

/// The names of one split's pieces.
#[derive(Clone, Debug)]
pub(crate) struct Namer {
    pub(crate) dir: PathBuf,
    pub(crate) prefix: String,
    pub(crate) ext: String,
    pub(crate) width: usize,
}

impl Namer {
    pub(crate) fn file_name(&self, i: u64) -> String {
        format!("{}.{i:0w$}{}", self.prefix, self.ext, w = self.width)
    }
    pub(crate) fn path(&self, i: u64) -> PathBuf {
        self.dir.join(self.file_name(i))
    }
    pub(crate) fn manifest(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.prefix))
    }
    /// The index in `name` if it is `PREFIX.<4 or more digits>EXT`.
    fn index_of(&self, name: &str) -> Option<u64> {
        let digits = name
            .strip_prefix(&self.prefix)?
            .strip_prefix('.')?
            .strip_suffix(&self.ext)?;
        if digits.len() < 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
    /// Files in the directory named like pieces of this split, any width.
    pub(crate) fn existing(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| self.index_of(n).is_some())
            })
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }
}

impl Namer {
    /// Check the output directory (created when its parent exists) and the
    /// names this split will use: without `--force`, any file named like a
    /// piece of this split (a planned name or a leftover) stops it before
    /// anything is written.
    pub(crate) fn prepare(&self, force: bool) -> Result<()> {
        let d = &self.dir;
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::usage("-o names a file, not a directory").with_path(d));
            }
            Err(_) => {
                std::fs::create_dir(d)
                    .context("cannot create the output directory")
                    .path(d)
                    .hint("-o DIR is created only when its parent directory exists")?;
                log::info!("created the output directory {}", d.display());
            }
        }
        let existing = self.existing();
        if !force && !existing.is_empty() {
            let names: Vec<String> = existing
                .iter()
                .take(3)
                .map(|p| p.display().to_string())
                .collect();
            return Err(Error::new(
                Kind::Exists,
                format!(
                    "{} file(s) named like this split's pieces already exist ({}{}); use --force to replace them (leftovers beyond the new count are removed)",
                    existing.len(),
                    names.join(", "),
                    if existing.len() > 3 { ", ..." } else { "" }
                ),
            ));
        }
        Ok(())
    }
}

/// FNV-1a 64 of a record header.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// What the manifest says of one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    /// Fingerprints of the first and last record headers (0 when empty).
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// A split's manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) input: String,
    pub(crate) input_bytes: u64,
    pub(crate) layout: String,
    pub(crate) complete: bool,
    pub(crate) pieces: Vec<Entry>,
}

const MAGIC: &str = "mmkit-split 1";

/// A manifest being written: its head once, then one line per finished
/// piece (appended: a split of thousands of pieces costs one small write
/// each), then `state complete`. A split that stops half-way leaves the
/// list of its finished pieces and no `state complete`.
pub(crate) struct ManifestLog {
    /// None when the manifest's name would be longer than a file name may
    /// be (pieces with names near 255 bytes): join then checks by content.
    file: Option<std::fs::File>,
    path: PathBuf,
    sync: bool,
}

impl ManifestLog {
    /// Start the manifest at `path` (replacing an earlier one).
    pub(crate) fn create(path: &Path, head: &Manifest, sync: bool) -> Result<ManifestLog> {
        let mut text = String::new();
        let _ = writeln!(text, "{MAGIC}");
        let _ = writeln!(text, "input {} {}", head.input_bytes, head.input);
        let _ = writeln!(text, "layout {}", head.layout);
        if path.file_name().is_some_and(|n| n.len() > 255) {
            log::warn!(
                "no manifest: {} would be a name longer than 255 bytes",
                path.display()
            );
            return Ok(ManifestLog {
                file: None,
                path: path.to_path_buf(),
                sync,
            });
        }
        let tmp = path.with_file_name(format!(".mmkit-manifest-{}.tmp", std::process::id()));
        let create = || -> std::io::Result<std::fs::File> {
            let f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut &f, text.as_bytes())?;
            if sync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, path)?;
            std::fs::OpenOptions::new().append(true).open(path)
        };
        let file = create().context("cannot write the manifest").path(path)?;
        Ok(ManifestLog {
            file: Some(file),
            path: path.to_path_buf(),
            sync,
        })
    }

    /// Continue the manifest at `path` (a ring restarted on its
    /// directory): the new run's head is appended after the earlier run's
    /// lines, which stay; a missing or foreign file is created anew.
    pub(crate) fn resume(path: &Path, head: &Manifest, sync: bool) -> Result<ManifestLog> {
        if !matches!(Manifest::read(path), Ok(Some(_))) {
            return ManifestLog::create(path, head, sync);
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .context("cannot write the manifest")
            .path(path)?;
        let mut log = ManifestLog {
            file: Some(file),
            path: path.to_path_buf(),
            sync,
        };
        log.line(&format!(
            "input {} {}\nlayout {}\n",
            head.input_bytes, head.input, head.layout
        ))?;
        Ok(log)
    }

    fn line(&mut self, text: &str) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let r = std::io::Write::write_all(file, text.as_bytes())
            .and_then(|_| if self.sync { file.sync_data() } else { Ok(()) });
        r.context("cannot write the manifest").path(&self.path)
    }

    /// Record a piece that is in place.
    pub(crate) fn piece(&mut self, p: &Entry) -> Result<()> {
        self.line(&format!(
            "piece {} {} {:016x} {:016x} {}\n",
            p.bytes, p.records, p.first, p.last, p.name
        ))
    }

    /// Record that a finished piece was deleted (`--ring`).
    pub(crate) fn dropped(&mut self, name: &str) -> Result<()> {
        self.line(&format!("dropped {name}\n"))
    }

    /// Mark the set complete.
    pub(crate) fn complete(mut self) -> Result<()> {
        self.line("state complete\n")
    }
}

impl Manifest {
    /// Read a manifest; `Ok(None)` when `path` does not exist.
    pub(crate) fn read(path: &Path) -> Result<Option<Manifest>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("cannot read the manifest", e).with_path(path)),
        };
        let bad = |line: usize, why: &str| {
            Error::new(
                Kind::Malformed,
                format!("bad manifest line {}: {why}", line + 1),
            )
            .with_path(path)
        };
        let mut lines = text.lines().enumerate();
        if lines.next().map(|(_, l)| l) != Some(MAGIC) {
            return Err(bad(0, "not an mmkit split manifest"));
        }
        let mut m = Manifest::default();
        for (i, l) in lines {
            let (key, rest) = l.split_once(' ').unwrap_or((l, ""));
            match key {
                "input" => {
                    let (n, name) = rest.split_once(' ').ok_or_else(|| bad(i, "input"))?;
                    m.input_bytes = n.parse().map_err(|_| bad(i, "input size"))?;
                    m.input = name.to_string();
                    // A later run (a restarted ring) begins here.
                    m.complete = false;
                }
                "layout" => m.layout = rest.to_string(),
                "state" if rest == "complete" => m.complete = true,
                "dropped" => m.pieces.retain(|p| p.name != rest),
                "piece" => {
                    let f: Vec<&str> = rest.splitn(5, ' ').collect();
                    if f.len() != 5 {
                        return Err(bad(i, "piece"));
                    }
                    let num = |s: &str| s.parse::<u64>().map_err(|_| bad(i, "piece number"));
                    let hex =
                        |s: &str| u64::from_str_radix(s, 16).map_err(|_| bad(i, "fingerprint"));
                    m.pieces.push(Entry {
                        bytes: num(f[0])?,
                        records: num(f[1])?,
                        first: hex(f[2])?,
                        last: hex(f[3])?,
                        name: f[4].to_string(),
                    });
                }
                _ => return Err(bad(i, "unknown key")),
            }
        }
        Ok(Some(m))
    }
}

/// Drop the split manifests from a list of files (`check d/*`, `join
/// d/cap.*`): they are not pieces. Says so for each.
pub(crate) fn without_manifests(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| {
            let is_manifest = p.extension().is_some_and(|e| e == "manifest")
                && matches!(Manifest::read(p), Ok(Some(_)));
            if is_manifest {
                log::info!(
                    "{} is the split's manifest, not a piece: skipped",
                    p.display()
                );
            }
            !is_manifest
        })
        .cloned()
        .collect()
}

/// The manifest beside a piece named `PREFIX.NNNN.EXT`, if it is named so.
pub(crate) fn manifest_for(piece: &Path) -> Option<PathBuf> {
    let name = piece.file_name()?.to_str()?;
    // PREFIX.NNNN.EXT or PREFIX.NNNN
    let parts: Vec<&str> = name.rsplitn(3, '.').collect();
    let prefix_end = match parts.as_slice() {
        [ext, digits, prefix]
            if digits.len() >= 4
                && digits.bytes().all(|c| c.is_ascii_digit())
                && !ext.is_empty() =>
        {
            prefix.len()
        }
        [digits, _, ..] if digits.len() >= 4 && digits.bytes().all(|c| c.is_ascii_digit()) => {
            name.len() - digits.len() - 1
        }
        _ => return None,
    };
    let prefix = &name[..prefix_end];
    Some(
        piece
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("{prefix}.manifest")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_names() {
        assert_eq!(
            name_parts(Path::new("/a/cap.pcap"), None),
            ("cap".into(), ".pcap".into())
        );
        assert_eq!(
            name_parts(Path::new("data"), None),
            ("data".into(), "".into())
        );
        assert_eq!(
            name_parts(Path::new(".hidden"), None),
            (".hidden".into(), "".into())
        );
        assert_eq!(
            name_parts(Path::new("x.tar.gz"), Some("p")),
            ("p".into(), ".gz".into())
        );
        for bad in ["", "../x", "/abs", ".hid", "a/b"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        assert!(check_prefix("lan-1").is_ok());
    }

    #[test]
    fn index_width_grows_with_piece_count() {
        assert_eq!(index_width(1 << 30, 100 << 20, 24), 4);
        assert_eq!(index_width(10 << 30, 1 << 20, 24), 5);
        assert_eq!(index_width(0, 100, 24), 4);
    }

    #[test]
    fn namer_recognises_pieces_of_any_width() {
        let n = Namer {
            dir: PathBuf::from("/d"),
            prefix: "cap".into(),
            ext: ".pcap".into(),
            width: 4,
        };
        assert_eq!(n.file_name(7), "cap.0007.pcap");
        assert_eq!(n.index_of("cap.0007.pcap"), Some(7));
        assert_eq!(n.index_of("cap.00012.pcap"), Some(12));
        assert_eq!(n.index_of("cap.007.pcap"), None);
        assert_eq!(n.index_of("cap.0007.pcapng"), None);
        assert_eq!(n.index_of("cat.0007.pcap"), None);
        assert_eq!(n.manifest(), PathBuf::from("/d/cap.manifest"));
    }

    #[test]
    fn manifest_round_trip_and_lookup() {
        let mut m = Manifest {
            input: "my cap.pcap".into(),
            input_bytes: 123,
            layout: "pcap (little-endian)".into(),
            complete: false,
            pieces: vec![Entry {
                name: "my cap.0000.pcap".into(),
                bytes: 100,
                records: 3,
                first: 1,
                last: u64::MAX,
            }],
        };
        let d = std::env::temp_dir().join(format!("mmkit-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("my cap.manifest");
        let mut log = ManifestLog::create(&p, &m, false).unwrap();
        log.piece(&m.pieces[0]).unwrap();
        assert_eq!(Manifest::read(&p).unwrap().as_ref(), Some(&m), "incomplete");
        log.complete().unwrap();
        m.complete = true;
        assert_eq!(Manifest::read(&p).unwrap(), Some(m));
        assert_eq!(Manifest::read(&d.join("none")).unwrap(), None);
        std::fs::write(&p, "junk\n").unwrap();
        assert!(Manifest::read(&p).is_err());
        assert_eq!(
            manifest_for(Path::new("/x/cap.0003.pcap")),
            Some(PathBuf::from("/x/cap.manifest"))
        );
        assert_eq!(
            manifest_for(Path::new("/x/a.b.00012.dat")),
            Some(PathBuf::from("/x/a.b.manifest"))
        );
        assert_eq!(manifest_for(Path::new("/x/renamed.pcap")), None);
        assert_ne!(fingerprint(b"ab"), fingerprint(b"ba"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
