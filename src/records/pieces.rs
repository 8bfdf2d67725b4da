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

use super::output::OutOpts;
use crate::error::{Context, Error, Kind, Result, ResultExt};
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
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
        let piece = self.file_name(0);
        let tmp = super::output::temp::name_for(piece.as_ref());
        let manifest = format!("{}.manifest", self.prefix);
        check_name_max(
            d,
            &[
                ("piece name", piece.as_bytes()),
                ("temporary name", tmp.as_bytes()),
                ("manifest name", manifest.as_bytes()),
            ],
        )
    }
}

/// Refuse, before anything is written, a name longer than a file name may
/// be in `dir` (NAME_MAX, from pathconf; 255 when it says nothing): the
/// rename at the end would fail after the whole output was written.
pub(crate) fn check_name_max(dir: &Path, names: &[(&str, &[u8])]) -> Result<()> {
    let pc = nix::unistd::pathconf(dir, nix::unistd::PathconfVar::NAME_MAX);
    let limit = pc
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(255);
    for (what, name) in names {
        if name.len() > limit {
            return Err(Error::usage(format!(
                "the {what} {} would be {} bytes, more than the {limit} bytes a file name may have in this directory (NAME_MAX)",
                String::from_utf8_lossy(name),
                name.len()
            ))
            .with_path(dir)
            .hint("choose a shorter name (split: --prefix P)"));
        }
    }
    Ok(())
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
///
/// The manifest is an output of the split: it is created exclusively, with
/// the input's permission bits, before any piece is written, and an
/// existing one is replaced only with `--force`. Of two splits with the
/// same prefix into one directory, only the one that created the manifest
/// writes pieces. Names are escaped ([`escape`]): one entry, one line.
pub(crate) struct ManifestLog {
    file: std::fs::File,
    path: PathBuf,
    sync: bool,
    /// Pieces recorded so far.
    recorded: u64,
    /// Remove the manifest when dropped unfinished with no piece recorded
    /// (created without `--force`: it replaced nothing).
    tidy: bool,
}

impl ManifestLog {
    /// Claim the manifest at `path`: refused (exit 4, saying what the
    /// existing one describes) when it exists and `out.force` is not set.
    pub(crate) fn create(path: &Path, head: &Manifest, out: &OutOpts) -> Result<ManifestLog> {
        let mut text = String::new();
        let _ = writeln!(text, "{MAGIC}");
        let _ = writeln!(
            text,
            "input {} {}",
            head.input_bytes,
            escape(head.input.as_bytes())
        );
        let _ = writeln!(text, "layout {}", escape(head.layout.as_bytes()));
        if out.force {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("cannot replace the manifest", e).with_path(path));
                }
                _ => {}
            }
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(out.mode)
            .open(path);
        let file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::new(
                    Kind::Exists,
                    format!(
                        "the manifest exists: {}; use --force to replace it",
                        describe(path)
                    ),
                )
                .with_path(path));
            }
            Err(e) => return Err(Error::io("cannot create the manifest", e).with_path(path)),
        };
        let mut log = ManifestLog {
            file,
            path: path.to_path_buf(),
            sync: out.sync,
            recorded: 0,
            tidy: !out.force,
        };
        if let Err(e) = log.line(&text) {
            let _ = std::fs::remove_file(path);
            log.tidy = false;
            return Err(e);
        }
        Ok(log)
    }

    /// Continue the manifest at `path` (a ring restarted on its
    /// directory): the new run's head is appended after the earlier run's
    /// lines, which stay; a missing file is created anew (an unreadable
    /// one is refused as [`ManifestLog::create`] refuses it).
    pub(crate) fn resume(path: &Path, head: &Manifest, out: &OutOpts) -> Result<ManifestLog> {
        if !matches!(Manifest::read(path), Ok(Some(_))) {
            return ManifestLog::create(path, head, out);
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .context("cannot write the manifest")
            .path(path)?;
        let mut log = ManifestLog {
            file,
            path: path.to_path_buf(),
            sync: out.sync,
            recorded: 0,
            tidy: false,
        };
        log.line(&format!(
            "input {} {}\nlayout {}\n",
            head.input_bytes,
            escape(head.input.as_bytes()),
            escape(head.layout.as_bytes())
        ))?;
        Ok(log)
    }

    fn line(&mut self, text: &str) -> Result<()> {
        let file = &mut self.file;
        let r = std::io::Write::write_all(file, text.as_bytes())
            .and_then(|_| if self.sync { file.sync_data() } else { Ok(()) });
        r.context("cannot write the manifest").path(&self.path)
    }

    /// Record a piece that is in place.
    pub(crate) fn piece(&mut self, p: &Entry) -> Result<()> {
        self.recorded += 1;
        self.line(&format!(
            "piece {} {} {:016x} {:016x} {}\n",
            p.bytes,
            p.records,
            p.first,
            p.last,
            escape(p.name.as_bytes())
        ))
    }

    /// Record that a finished piece was deleted (`--ring`).
    pub(crate) fn dropped(&mut self, name: &str) -> Result<()> {
        self.line(&format!("dropped {}\n", escape(name.as_bytes())))
    }

    /// Mark the set complete.
    pub(crate) fn complete(mut self) -> Result<()> {
        self.tidy = false;
        self.line("state complete\n")
    }
}

impl Drop for ManifestLog {
    fn drop(&mut self) {
        if self.tidy && self.recorded == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What the manifest at `path` describes, for a message.
fn describe(path: &Path) -> String {
    match Manifest::read(path) {
        Ok(Some(m)) => format!(
            "{} split of {} ({}, {} piece(s){})",
            if m.complete {
                "a finished"
            } else {
                "an unfinished"
            },
            m.input,
            m.layout,
            m.pieces.len(),
            m.pieces
                .first()
                .map_or(String::new(), |e| format!(", the first {}", e.name))
        ),
        _ => "not a manifest mmkit can read".into(),
    }
}

/// A name as it stands in the manifest, on one line: `\\`, `\n`, `\t`,
/// and `\xHH` for every other control byte and every byte that is not
/// UTF-8.
pub(crate) fn escape(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\t' => s.push_str("\\t"),
                c if c < ' ' || c == '\x7f' => {
                    let _ = write!(s, "\\x{:02x}", c as u32);
                }
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// The bytes [`escape`] wrote `s` for; None when an escape is malformed.
pub(crate) fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut v = Vec::with_capacity(s.len());
    let mut b = s.bytes();
    while let Some(c) = b.next() {
        if c != b'\\' {
            v.push(c);
            continue;
        }
        match b.next()? {
            b'\\' => v.push(b'\\'),
            b'n' => v.push(b'\n'),
            b't' => v.push(b'\t'),
            b'x' => {
                let h = [b.next()?, b.next()?];
                v.push(u8::from_str_radix(std::str::from_utf8(&h).ok()?, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(v)
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
            let name = |s: &str| {
                unescape(s)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
                    .ok_or_else(|| bad(i, "bad escape in a name"))
            };
            match key {
                "input" => {
                    let (n, input) = rest.split_once(' ').ok_or_else(|| bad(i, "input"))?;
                    m.input_bytes = n.parse().map_err(|_| bad(i, "input size"))?;
                    m.input = name(input)?;
                    // A later run (a restarted ring) begins here.
                    m.complete = false;
                }
                "layout" => m.layout = name(rest)?,
                "state" if rest == "complete" => m.complete = true,
                "dropped" => {
                    let gone = name(rest)?;
                    m.pieces.retain(|p| p.name != gone);
                }
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
                        name: name(f[4])?,
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
            input: "my\ncap\\\t\x01.pcap".into(),
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
        let _ = std::fs::remove_file(&p);
        let out = OutOpts {
            force: false,
            sync: false,
            mode: 0o600,
        };
        let mut log = ManifestLog::create(&p, &m, &out).unwrap();
        assert!(ManifestLog::create(&p, &m, &out).is_err(), "claimed twice");
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
        assert_eq!(escape(b"a\\b\nc\td\x7f\xff"), "a\\\\b\\nc\\td\\x7f\\xff");
        assert_eq!(
            unescape("a\\\\b\\nc\\td\\x7f\\xff").unwrap(),
            b"a\\b\nc\td\x7f\xff"
        );
        assert_eq!(unescape("bad\\q"), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
