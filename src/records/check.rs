//! check: walk every record and report what the file holds and where it is
//! damaged.

use super::input::{Input, WindowOpts};
use super::layout::LayoutOpts;
use super::walk::{Walker, open_layout};
use crate::error::{Error, Kind, Result};
use crate::num::human;
use crate::ui::Progress;
use std::path::{Path, PathBuf};

/// A sequence-number gap: at `offset`, expected `expected`, found `found`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gap {
    pub(crate) offset: u64,
    pub(crate) expected: u32,
    pub(crate) found: u32,
}

#[derive(Debug, Default)]
pub(crate) struct CheckReport {
    pub(crate) path: PathBuf,
    pub(crate) layout: String,
    pub(crate) size: u64,
    pub(crate) header_len: u64,
    pub(crate) records: u64,
    pub(crate) record_bytes: u64,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) first_seq: Option<u32>,
    pub(crate) last_seq: Option<u32>,
    pub(crate) gaps: u64,
    pub(crate) first_gaps: Vec<Gap>,
    /// The damage found (walk stopped there), if any.
    pub(crate) problem: Option<Error>,
    /// Layout-specific lines (pcapng: blocks, interfaces, packets, times),
    /// shown in place of the header and record lines.
    pub(crate) details: Option<String>,
}

impl CheckReport {
    pub(crate) fn clean(&self) -> bool {
        self.problem.is_none() && self.gaps == 0
    }

    /// Render the report (a few lines) into `s`.
    pub(crate) fn render(&self, s: &mut dyn std::io::Write) -> std::io::Result<()> {
        let status = match (&self.problem, self.gaps) {
            (Some(_), _) => "DAMAGED",
            (None, 0) => "OK",
            _ => "SEQUENCE GAPS",
        };
        writeln!(s, "{}: {status}", self.path.display())?;
        if !self.layout.is_empty() {
            writeln!(s, "  layout:   {}", self.layout)?;
        }
        writeln!(s, "  size:     {} bytes ({})", self.size, human(self.size))?;
        if let Some(d) = &self.details {
            write!(s, "{d}")?;
            return self.render_problem(s);
        }
        writeln!(s, "  header:   {} bytes", self.header_len)?;
        writeln!(
            s,
            "  records:  {} ({} bytes)",
            self.records, self.record_bytes
        )?;
        if self.records > 0 {
            writeln!(
                s,
                "  record:   min {}, max {}, mean {:.1} bytes (headers included)",
                self.min,
                self.max,
                crate::decimal::Frac::of(self.record_bytes, self.records)
            )?;
        }
        if let (Some(a), Some(b)) = (self.first_seq, self.last_seq) {
            write!(s, "  sequence: {a}..{b}, ")?;
            if self.gaps == 0 {
                writeln!(s, "no gaps")?;
            } else {
                writeln!(s, "{} gaps", self.gaps)?;
                for g in &self.first_gaps {
                    writeln!(
                        s,
                        "    at byte {}: expected {}, found {}",
                        g.offset, g.expected, g.found
                    )?;
                }
            }
        }
        self.render_problem(s)
    }

    fn render_problem(&self, s: &mut dyn std::io::Write) -> std::io::Result<()> {
        if let Some(p) = &self.problem {
            let mut e = p.to_string();
            // The path is already in the first line.
            if let Some(pp) = &p.path {
                e = e.replacen(&format!(": {}", pp.display()), "", 1);
            }
            writeln!(s, "  problem:  {e}")?;
        }
        Ok(())
    }
}

const MAX_LISTED_GAPS: usize = 10;

/// Walk one file. I/O errors are returned; damage is reported in the report.
pub(crate) fn check_file(
    path: &Path,
    lopts: &LayoutOpts,
    wopts: &WindowOpts,
) -> Result<CheckReport> {
    let mut src = Input::open(path, wopts)?;
    let mut r = CheckReport {
        path: path.to_path_buf(),
        size: src.len(),
        ..Default::default()
    };
    match super::pcapng::wanted(&src, lopts) {
        Ok(true) => {
            super::pcapng::check::check(&mut src, lopts, &mut r)?;
            return Ok(r);
        }
        Ok(false) => {}
        Err(e) if e.kind == Kind::Malformed => {
            r.layout = "pcapng".into();
            r.problem = Some(e);
            return Ok(r);
        }
        Err(e) => return Err(e),
    }
    let (layout, _) = match open_layout(&mut src, lopts) {
        Ok(x) => x,
        Err(e) if e.kind == Kind::Malformed => {
            r.problem = Some(e);
            return Ok(r);
        }
        Err(e) => return Err(e),
    };
    r.layout = layout.describe();
    r.header_len = layout.header_len as u64;
    let mut w = Walker::new(&layout, r.header_len, src.len());
    let mut progress = Progress::new("check", src.len());
    let mut n = 0u32;
    loop {
        match w.next(&mut src) {
            Ok(Some(rec)) => {
                if r.records == 0 || rec.len < r.min {
                    r.min = rec.len;
                }
                r.max = r.max.max(rec.len);
                r.records += 1;
                r.record_bytes += rec.len;
                if let Some(seq) = rec.seq {
                    if let Some(prev) = r.last_seq {
                        let expected = prev.wrapping_add(1);
                        if seq != expected {
                            r.gaps += 1;
                            if r.first_gaps.len() < MAX_LISTED_GAPS {
                                r.first_gaps.push(Gap {
                                    offset: rec.offset,
                                    expected,
                                    found: seq,
                                });
                            }
                        }
                    } else {
                        r.first_seq = Some(seq);
                    }
                    r.last_seq = Some(seq);
                }
                n = n.wrapping_add(1);
                if n.is_multiple_of(4096) {
                    progress.update(rec.end(), "");
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
    Ok(r)
}

/// `mmkit check FILE…`: render a report per file into `out`; returns
/// whether every file is clean.
///
/// Every file is checked even when one cannot be read: its error is logged
/// (stderr), a `NOT CHECKED` line goes into the report, and at the end an
/// error of the first such file's kind is returned (I/O and system errors
/// outrank damage: exit 1, 8, … rather than 3). A usage error (bad flags,
/// an input that cannot be checked) stops at once.
pub(crate) fn run_many(
    inputs: &[PathBuf],
    lopts: &LayoutOpts,
    wopts: &WindowOpts,
    out: &mut dyn std::io::Write,
) -> Result<bool> {
    let inputs = super::pieces::without_manifests(inputs);
    if inputs.is_empty() {
        return Err(Error::usage("check needs at least one file"));
    }
    let report_err = |e| Error::io("cannot write the report", e);
    let mut clean = true;
    let mut failed: Option<(Kind, usize)> = None;
    for p in &inputs {
        match check_file(p, lopts, wopts) {
            Ok(r) => {
                r.render(out).map_err(report_err)?;
                clean &= r.clean();
            }
            Err(e) if e.kind == Kind::Usage => return Err(e),
            Err(e) => {
                log::error!("{e}");
                writeln!(out, "{}: NOT CHECKED (error above)", p.display()).map_err(report_err)?;
                failed.get_or_insert((e.kind, 0)).1 += 1;
            }
        }
    }
    if let Some((kind, n)) = failed {
        return Err(Error::new(
            kind,
            format!(
                "{n} of {} files could not be checked{}",
                inputs.len(),
                if clean { "" } else { "; others are damaged" }
            ),
        ));
    }
    Ok(clean)
}
