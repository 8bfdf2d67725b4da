//! The ring: `--ring N`, `--ring-bytes SIZE`, `--keep-free SIZE`.
//!
//! The ring tracks finished pieces by their NUMBER, not by a name: the
//! files of piece N are `PREFIX.NNNNNN` and `PREFIX.NNNNNN.*` (`EXT`, `.TIME.EXT`),
//! whatever `--exec` left of it (`lan.000001.pcap.gz`, `….done`, or
//! nothing at all after `rm`). The directory is looked at each time a
//! piece is finished, so the pieces of an earlier run on the same
//! directory and prefix count too, and a restarted ring continues their
//! numbering. The oldest piece goes first, all of its files; a piece that
//! `--exec` has yet to see or is running on is waited for (the stream is
//! not read meanwhile and the pipe pushes back), so the disk never holds
//! more than the ring's pieces plus the one being written.

use super::exec::Exec;
use crate::error::{Context, Result, ResultExt};
use crate::records::pieces::{ManifestLog, Namer};
use std::os::unix::fs::MetadataExt;

/// What bounds the ring (all unset: no ring).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bounds {
    /// Finished pieces kept.
    pub(crate) pieces: Option<u64>,
    /// Bytes the finished pieces' files take (the newest is always kept).
    pub(crate) bytes: Option<u64>,
    /// Free bytes to keep on the filesystem (the newest is always kept).
    pub(crate) keep_free: Option<u64>,
}

impl Bounds {
    pub(crate) fn any(&self) -> bool {
        self.pieces.is_some() || self.bytes.is_some() || self.keep_free.is_some()
    }
}

/// The piece number in `name` if it is `PREFIX.<4 or more digits>` and
/// nothing or `.` and anything (`EXT`, `.TIME.EXT`, `EXT.gz`).
pub(crate) fn number(namer: &Namer, name: &str) -> Option<u64> {
    let rest = name
        .strip_prefix(namer.prefix.as_str())?
        .strip_prefix('.')?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    if digits < 4 || !(tail.is_empty() || tail.starts_with('.')) {
        return None;
    }
    rest[..digits].parse().ok()
}

/// The name mmkit gave the piece one of whose files is `file`: up to its
/// first extension of the layout (`.pcap`: the last part of the namer's,
/// which is `.TIME.pcap` with `--name-time`).
fn given_name<'a>(namer: &Namer, file: &'a str) -> &'a str {
    let ext = namer.ext.rfind('.').map_or("", |i| &namer.ext[i..]);
    let from = namer.prefix.len() + 1;
    match file.get(from..).and_then(|r| r.find(ext)) {
        Some(i) if !ext.is_empty() => &file[..from + i + ext.len()],
        _ => file,
    }
}

/// The files of this ring's pieces: (number, bytes, name), by number.
fn scan(namer: &Namer) -> Vec<(u64, u64, String)> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&namer.dir) {
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if let Some(n) = number(namer, &name) {
                let bytes = e.metadata().map(|m| m.size()).unwrap_or(0);
                v.push((n, bytes, name));
            }
        }
    }
    v.sort_unstable();
    v
}

/// The number the next piece takes: one after the highest on disk (0 for
/// an empty directory).
pub(crate) fn next_number(namer: &Namer) -> u64 {
    scan(namer).last().map_or(0, |f| f.0 + 1)
}

/// Pieces numbered `from` or more that have a file on disk.
pub(crate) fn kept(namer: &Namer, from: u64) -> usize {
    let mut last = None;
    let mut n = 0;
    for f in scan(namer).iter().filter(|f| f.0 >= from) {
        if last != Some(f.0) {
            n += 1;
            last = Some(f.0);
        }
    }
    n
}

// The statvfs fields are 32-bit on some 32-bit targets.
#[allow(clippy::useless_conversion)]
fn free_bytes(dir: &std::path::Path) -> u64 {
    nix::sys::statvfs::statvfs(dir).map_or(u64::MAX, |s| {
        u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size()))
    })
}

/// Remove the oldest pieces while a bound is exceeded; how many it removed.
pub(crate) fn trim(
    b: &Bounds,
    namer: &Namer,
    exec: &mut Exec,
    manifest: &mut ManifestLog,
) -> Result<u64> {
    if !b.any() {
        return Ok(0);
    }
    let mut removed = 0;
    loop {
        let files = scan(namer);
        let Some(oldest) = files.first().map(|f| f.0) else {
            return Ok(removed);
        };
        let (mut pieces, mut total, mut last) = (0u64, 0u64, None);
        for f in &files {
            if last != Some(f.0) {
                pieces += 1;
                last = Some(f.0);
            }
            total = total.saturating_add(f.1);
        }
        let over_count = b.pieces.is_some_and(|n| pieces > n);
        let over_space = pieces > 1
            && (b.bytes.is_some_and(|m| total > m)
                || b.keep_free.is_some_and(|k| free_bytes(&namer.dir) < k));
        if !over_count && !over_space {
            return Ok(removed);
        }
        // A piece `--exec` has yet to finish takes its space twice while
        // it runs (gzip writes NAME.gz beside NAME): the space bounds are
        // judged once the command is done with it.
        if !over_count && exec.pending().next().is_some() {
            exec.wait_one();
            continue;
        }
        let busy = exec.pending().any(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| number(namer, n))
                == Some(oldest)
        });
        if busy {
            exec.wait_one();
            continue;
        }
        let mut given = namer.file_name(oldest);
        for f in files.iter().filter(|f| f.0 == oldest) {
            given = given_name(namer, &f.2).to_string();
            let p = namer.dir.join(&f.2);
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .context("cannot remove the oldest piece of the ring")
                        .path(&p);
                }
                _ => log::debug!("ring: removed {}", p.display()),
            }
        }
        manifest.dropped(&given)?;
        removed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_is_known_by_its_number_whatever_the_exec_left() {
        let n = Namer {
            dir: ".".into(),
            prefix: "lan".into(),
            ext: ".pcap".into(),
            width: 6,
        };
        assert_eq!(number(&n, "lan.000007.pcap"), Some(7));
        assert_eq!(number(&n, "lan.000007.pcap.gz"), Some(7));
        assert_eq!(number(&n, "lan.123456.pcap.done.x"), Some(123456));
        assert_eq!(number(&n, "lan.000007.20261207-2300.pcap"), Some(7));
        assert_eq!(number(&n, "lan.000007x.pcap"), None);
        assert_eq!(given_name(&n, "lan.000007.pcap.gz"), "lan.000007.pcap");
        assert_eq!(given_name(&n, "lan.000007.pcap"), "lan.000007.pcap");
        let t = Namer {
            ext: ".20261207.pcap".into(),
            ..n.clone()
        };
        assert_eq!(
            given_name(&t, "lan.000007.20261206.pcap.done"),
            "lan.000007.20261206.pcap"
        );
        assert_eq!(number(&n, "lan.007.pcap"), None);
        assert_eq!(number(&n, "lan.manifest"), None);
        assert_eq!(number(&n, "wan.000007.pcap"), None);
        assert_eq!(number(&n, ".lan.000007.pcap.mmkit-1-0.tmp"), None);
    }
}
