//! recover: keep the longest prefix of whole, plausible records of a file
//! cut by a power loss or a SIGKILL (a torn last record, the zero-filled
//! tail of a pre-sized piece, the temporary of a killed split), and write it
//! atomically to a new file or truncate the file in place.
//!
//! "Plausible" is what the walk checks (magic, length bounds, a whole record
//! before the end of the file), plus two checks of its own: a record header
//! of zero bytes only (what a pre-sized, unfinished output holds) and, for
//! pcap, a captured length above the original length or the snaplen. Payload
//! bytes are not checked. A clean file is left alone; a file header of zero
//! bytes only (a pre-sized output killed before its first write) leaves
//! nothing to recover. pcapng is scanned block by block in
//! `records::pcapng::recover`; the writing is shared.

use super::input::{Input, WindowOpts};
use super::layout::{Layout, LayoutKind, LayoutOpts, read_uint};
use super::output::{OutOpts, OutputFile, dir_of, kernel_copy, temp};
use super::walk::{Walker, open_layout};
use crate::error::{Context, Error, Kind, Result, ResultExt};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub(crate) struct RecoverOpts {
    pub(crate) input: PathBuf,
    /// Where to write the prefix (default: NAME.recovered.EXT beside the input).
    pub(crate) output: Option<PathBuf>,
    /// Truncate the input instead of writing a new file.
    pub(crate) in_place: bool,
    pub(crate) dry_run: bool,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    pub(crate) layout: LayoutOpts,
    pub(crate) window: WindowOpts,
}

/// What recover did with the prefix.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// The file is clean: nothing written.
    Clean,
    /// Dry run: this is where it would have gone (None: in place).
    WouldWrite(Option<PathBuf>),
    Wrote(PathBuf),
    Truncated,
}

#[derive(Debug)]
pub(crate) struct RecoverReport {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    /// What the walk found: records and bytes kept, why the rest goes.
    pub(crate) scan: Scan,
    pub(crate) action: Action,
}

impl RecoverReport {
    pub(crate) fn dropped(&self) -> u64 {
        self.size - self.scan.kept
    }

    /// Render the report (a few lines) into `s`.
    pub(crate) fn render(&self, s: &mut dyn std::io::Write) -> std::io::Result<()> {
        let p = self.path.display();
        if let Some(b) = &self.scan.blocks {
            return self.render_pcapng(b, s);
        }
        if self.action == Action::Clean {
            return writeln!(
                s,
                "{p}: nothing to recover ({} records, {} bytes, clean)",
                self.scan.records, self.size
            );
        }
        writeln!(s, "{p}: RECOVERABLE")?;
        writeln!(s, "  layout:   {}", self.scan.layout)?;
        writeln!(
            s,
            "  kept:     {} records, {} bytes (file header {} bytes)",
            self.scan.records, self.scan.kept, self.scan.header_len
        )?;
        writeln!(s, "  dropped:  {} bytes", self.dropped())?;
        if let Some((why, at)) = &self.scan.reason {
            writeln!(s, "  why:      {why} at byte {at} (0x{at:X})")?;
        }
        self.render_tail(s)
    }

    /// pcapng: packets and blocks, kept and dropped.
    fn render_pcapng(&self, b: &Blocks, s: &mut dyn std::io::Write) -> std::io::Result<()> {
        let p = self.path.display();
        if self.action == Action::Clean {
            return writeln!(
                s,
                "{p}: nothing to recover ({} packets in {} blocks, {} bytes, clean)",
                self.scan.records, b.kept, self.size
            );
        }
        writeln!(s, "{p}: RECOVERABLE")?;
        writeln!(s, "  layout:   {}", self.scan.layout)?;
        writeln!(
            s,
            "  kept:     {} packets, {} bytes, {} blocks",
            self.scan.records, self.scan.kept, b.kept
        )?;
        writeln!(
            s,
            "  dropped:  {} bytes{}",
            self.dropped(),
            dropped_blocks(b)
        )?;
        if let Some((why, at)) = &self.scan.reason {
            writeln!(s, "  why:      {why} at byte {at} (0x{at:X})")?;
        }
        self.render_tail(s)
    }

    /// The torn warning and what was done.
    fn render_tail(&self, s: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Some(z) = self.scan.torn {
            writeln!(
                s,
                "  warning:  the last kept record's payload ends in {z} zero bytes, just before the zero-filled tail: it may have been cut there (payloads are not checked)"
            )?;
        }
        match &self.action {
            Action::Clean => Ok(()),
            Action::WouldWrite(Some(o)) => writeln!(s, "  dry run:  would write {}", o.display()),
            Action::WouldWrite(None) => {
                writeln!(s, "  dry run:  would truncate to {} bytes", self.scan.kept)
            }
            Action::Wrote(o) => writeln!(s, "  wrote:    {}", o.display()),
            Action::Truncated => writeln!(s, "  truncated to {} bytes", self.scan.kept),
        }
    }
}

/// The dropped whole blocks of a pcapng report, if any.
fn dropped_blocks(b: &Blocks) -> String {
    if b.dropped == 0 {
        return String::new();
    }
    format!(
        ", among them {} whole blocks ({} packets) from the damage on",
        b.dropped, b.dropped_packets
    )
}

/// The default output: `NAME.recovered.EXT` beside the input; for the
/// temporary of a killed split (`.NAME.mmkit-PID-N.tmp`), from NAME.
pub(crate) fn default_output(input: &Path) -> PathBuf {
    let name = input.file_name().unwrap_or_default();
    let real = temp::dest_of(name).unwrap_or_else(|| name.to_os_string());
    let file = real.to_string_lossy();
    let out = match file.rfind('.') {
        Some(i) if i > 0 => format!("{}.recovered{}", &file[..i], &file[i..]),
        _ => format!("{file}.recovered"),
    };
    input.with_file_name(out)
}

/// Why a record the walk accepted is still not plausible here, if it is not.
fn implausible(l: &Layout, snaplen: Option<u64>, rh: &[u8]) -> Option<String> {
    if rh.iter().all(|&b| b == 0) {
        return Some("record header of zero bytes only (a zero-filled tail)".into());
    }
    let snaplen = snaplen?;
    let incl = read_uint(&rh[8..], 4, l.endian);
    let orig = read_uint(&rh[12..], 4, l.endian);
    if incl > orig {
        return Some(format!(
            "pcap captured length {incl} exceeds the original length {orig}"
        ));
    }
    if snaplen != 0 && incl > snaplen {
        return Some(format!(
            "pcap captured length {incl} exceeds the snaplen {snaplen}"
        ));
    }
    None
}

/// What identifies the input and says whether it is still being written.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

fn stamp(f: &File, path: &Path) -> Result<Stamp> {
    let m = f.metadata().context("cannot stat input").path(path)?;
    Ok(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
    })
}

fn being_written(path: &Path, before: &Stamp, now: &Stamp) -> Error {
    Error::new(
        Kind::InputChanged,
        format!(
            "the file is being written (size {} → {} bytes during the scan); nothing was changed",
            before.len, now.len
        ),
    )
    .with_path(path)
    .hint("recover it when the writer has stopped")
}

/// What the walk found: the layout, the whole plausible records and bytes
/// kept, and why the rest is dropped (the damage and its offset).
#[derive(Debug)]
pub(crate) struct Scan {
    /// The layout as the report names it.
    pub(crate) layout: String,
    pub(crate) header_len: u64,
    pub(crate) records: u64,
    pub(crate) kept: u64,
    pub(crate) reason: Option<(String, u64)>,
    /// Zero bytes ending the last kept record's payload, before a zero tail.
    pub(crate) torn: Option<u64>,
    /// pcapng: the blocks kept and those dropped.
    pub(crate) blocks: Option<Blocks>,
}

/// pcapng's account of blocks (the packets are `records`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocks {
    pub(crate) kept: u64,
    /// Whole, well-framed blocks from the damage on (the damaged one
    /// included when only its meaning is wrong), and the packets among them.
    pub(crate) dropped: u64,
    pub(crate) dropped_packets: u64,
}

/// Walk the file; keep the longest prefix of whole, plausible records.
fn scan(src: &mut Input, lopts: &LayoutOpts) -> Result<Scan> {
    let (layout, header) = open_layout(src, lopts).map_err(|e| {
        if e.kind == Kind::Malformed {
            e.hint("nothing is recoverable without a good file header")
        } else {
            e
        }
    })?;
    if !header.is_empty() && header.iter().all(|&b| b == 0) {
        return Err(Error::malformed(format!(
            "the {}-byte file header is zero bytes only: it was never written",
            header.len()
        ))
        .with_path(src.path())
        .at(0)
        .hint("nothing is recoverable without a good file header"));
    }
    let snaplen = (layout.name == "pcap" && header.len() >= 20)
        .then(|| read_uint(&header[16..], 4, layout.endian));
    let hl = layout.header_len as u64;
    let (mut records, mut kept, mut reason) = (0u64, hl, None);
    let mut last = None;
    let mut w = Walker::new(&layout, hl, src.len());
    loop {
        match w.next(src) {
            Ok(Some(rec)) => {
                let rh = src.bytes(rec.offset, layout.rec_header_len)?;
                if let Some(why) = implausible(&layout, snaplen, rh) {
                    reason = Some((why, rec.offset));
                    break;
                }
                records += 1;
                kept = rec.end();
                last = Some(rec.offset + layout.rec_header_len as u64);
            }
            Ok(None) => break,
            Err(e) if e.kind == Kind::Malformed => {
                let at = e.offset.unwrap_or(kept);
                reason = Some((e.into_msg(), at));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    // A guessed seed layout whose first record header is not zeros and not
    // a seed header (bad magic, absurd length) is a guess gone wrong (a file
    // of another format), not a file to cut to its header. A first record
    // cut short or never written (zeros) keeps the header as usual.
    let rh_len = layout.rec_header_len;
    if records == 0
        && lopts.layout == LayoutKind::Auto
        && layout.name == "seed"
        && src.len() >= hl + rh_len as u64
        && let Some((why, at)) = &reason
        && {
            let rh = src.bytes(hl, rh_len)?;
            rh.iter().any(|&b| b != 0) && layout.record_len(rh).is_err()
        }
    {
        return Err(Error::malformed(format!(
            "no seed record follows the file header ({why}): the layout was guessed as seed"
        ))
        .with_path(src.path())
        .at(*at)
        .hint("nothing was written; for another record format give --layout and its geometry"));
    }
    let torn = match (&reason, last) {
        (Some((_, at)), Some(payload)) if *at == kept => {
            torn_by_zeros(src, &layout, payload, kept)?
        }
        _ => None,
    };
    Ok(Scan {
        layout: layout.describe(),
        header_len: hl,
        records,
        kept,
        reason,
        torn,
        blocks: None,
    })
}

/// When the dropped part starts with zeros (a pre-sized output that was
/// never filled), the zeros may have begun inside the last kept record,
/// whose header was whole: the number of zero bytes its payload
/// `[payload, end)` ends with, if any.
fn torn_by_zeros(src: &mut Input, l: &Layout, payload: u64, end: u64) -> Result<Option<u64>> {
    let n = (src.len() - end).min(l.rec_header_len as u64);
    let mut next = vec![0u8; n as usize];
    src.read_exact_at(&mut next, end)?;
    if n == 0 || next.iter().any(|&b| b != 0) {
        return Ok(None);
    }
    let mut buf = vec![0u8; 64 << 10];
    let mut at = end;
    while at > payload {
        let k = (at - payload).min(buf.len() as u64);
        let chunk = &mut buf[..k as usize];
        src.read_exact_at(chunk, at - k)?;
        if let Some(i) = chunk.iter().rposition(|&b| b != 0) {
            at = at - k + i as u64 + 1;
            break;
        }
        at -= k;
    }
    Ok((at < end).then_some(end - at))
}

pub(crate) fn run(o: &RecoverOpts) -> Result<RecoverReport> {
    if o.in_place && o.output.is_some() {
        return Err(Error::usage("-o and --in-place contradict each other"));
    }
    if let Some(pid) = temp::live_writer(&o.input) {
        return Err(Error::new(
            Kind::InputChanged,
            format!("the file is the temporary of a running mmkit (PID {pid})"),
        )
        .with_path(&o.input)
        .hint("recover it when that process has ended"));
    }
    let mut src = Input::open(&o.input, &o.window)?;
    let before = stamp(src.file(), &o.input)?;
    let scan = if super::pcapng::wanted(&src, &o.layout)? {
        super::pcapng::recover::scan(&mut src, &o.layout)?
    } else {
        scan(&mut src, &o.layout)?
    };
    let kept = scan.kept;
    let mut r = RecoverReport {
        path: o.input.clone(),
        size: src.len(),
        scan,
        action: Action::Clean,
    };
    let now = stamp(src.file(), &o.input)?;
    if now != before || now.len != src.len() {
        return Err(being_written(&o.input, &before, &now));
    }
    if r.scan.reason.is_none() && kept == r.size {
        return Ok(r);
    }
    let dest = (!o.in_place).then(|| o.output.clone().unwrap_or_else(|| default_output(&o.input)));
    if o.dry_run {
        r.action = Action::WouldWrite(dest);
        return Ok(r);
    }
    match dest {
        Some(dest) => {
            // The input may be a stale temporary in the output directory:
            // it must survive until its prefix is safely written.
            temp::keep_temps(dir_of(&o.input));
            let mode = src
                .file()
                .metadata()
                .map(|m| OutOpts::mode_of(&m))
                .unwrap_or(0o600);
            let opts = OutOpts {
                force: o.force,
                sync: o.sync,
                mode,
            };
            let out = OutputFile::create(&dest, kept, &opts, false)?;
            kernel_copy(src.file(), &o.input, 0, out.file(), &dest, 0, kept)?;
            let now = stamp(src.file(), &o.input)?;
            if now != before {
                return Err(being_written(&o.input, &before, &now));
            }
            out.commit()?;
            r.action = Action::Wrote(dest);
        }
        None => {
            drop(src);
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&o.input)
                .context("cannot open the file for writing")
                .path(&o.input)?;
            let now = stamp(&f, &o.input)?;
            if now != before {
                return Err(being_written(&o.input, &before, &now));
            }
            f.set_len(kept)
                .context("cannot truncate the file")
                .path(&o.input)?;
            if o.sync {
                f.sync_all()
                    .context("cannot sync the file")
                    .path(&o.input)?;
            }
            r.action = Action::Truncated;
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::layout::Endian;

    #[test]
    fn default_names() {
        let d = |s: &str| default_output(Path::new(s));
        assert_eq!(d("/d/cap.pcap"), PathBuf::from("/d/cap.recovered.pcap"));
        assert_eq!(d("rec"), PathBuf::from("rec.recovered"));
        assert_eq!(
            d("/o/.cap.0001.pcap.mmkit-42-1.tmp"),
            PathBuf::from("/o/cap.0001.recovered.pcap")
        );
    }

    #[test]
    fn pcap_plausibility() {
        let l = Layout::pcap(Endian::Little, false, 1000);
        let mut rh = [0u8; 16];
        assert!(implausible(&l, Some(1000), &rh).unwrap().contains("zero"));
        rh[0] = 1;
        rh[8..12].copy_from_slice(&60u32.to_le_bytes());
        rh[12..16].copy_from_slice(&60u32.to_le_bytes());
        assert_eq!(implausible(&l, Some(1000), &rh), None);
        rh[12..16].copy_from_slice(&59u32.to_le_bytes());
        assert!(
            implausible(&l, Some(1000), &rh)
                .unwrap()
                .contains("original")
        );
        rh[8..12].copy_from_slice(&2000u32.to_le_bytes());
        rh[12..16].copy_from_slice(&2000u32.to_le_bytes());
        assert!(
            implausible(&l, Some(1000), &rh)
                .unwrap()
                .contains("snaplen")
        );
        assert_eq!(implausible(&l, Some(0), &rh), None);
        let s = Layout::seed(Endian::Little, false);
        assert_eq!(implausible(&s, None, &rh), None);
    }
}
