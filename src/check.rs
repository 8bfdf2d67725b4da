//! check: walk every record and report what the file holds and where it is
//! damaged.

use crate::error::{Error, Result, exit};
use crate::layout::LayoutOpts;
use crate::size::human;
use crate::walk::{Progress, Walker, open_layout};
use crate::window::{MappedInput, WindowOpts};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A sequence-number gap: at `offset`, expected `expected`, found `found`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub offset: u64,
    pub expected: u32,
    pub found: u32,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    pub path: PathBuf,
    pub layout: String,
    pub size: u64,
    pub header_len: u64,
    pub records: u64,
    pub record_bytes: u64,
    pub min: u64,
    pub max: u64,
    pub first_seq: Option<u32>,
    pub last_seq: Option<u32>,
    pub gaps: u64,
    pub first_gaps: Vec<Gap>,
    /// The damage found (walk stopped there), if any.
    pub problem: Option<Error>,
}

impl CheckReport {
    pub fn clean(&self) -> bool {
        self.problem.is_none() && self.gaps == 0
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let status = match (&self.problem, self.gaps) {
            (Some(_), _) => "DAMAGED",
            (None, 0) => "OK",
            _ => "SEQUENCE GAPS",
        };
        let _ = writeln!(s, "{}: {status}", self.path.display());
        if !self.layout.is_empty() {
            let _ = writeln!(s, "  layout:   {}", self.layout);
        }
        let _ = writeln!(s, "  size:     {} bytes ({})", self.size, human(self.size));
        let _ = writeln!(s, "  header:   {} bytes", self.header_len);
        let _ = writeln!(
            s,
            "  records:  {} ({} bytes)",
            self.records, self.record_bytes
        );
        if self.records > 0 {
            let _ = writeln!(
                s,
                "  record:   min {}, max {}, mean {:.1} bytes (headers included)",
                self.min,
                self.max,
                self.record_bytes as f64 / self.records as f64
            );
        }
        if let (Some(a), Some(b)) = (self.first_seq, self.last_seq) {
            let _ = write!(s, "  sequence: {a}..{b}, ");
            if self.gaps == 0 {
                let _ = writeln!(s, "no gaps");
            } else {
                let _ = writeln!(s, "{} gaps", self.gaps);
                for g in &self.first_gaps {
                    let _ = writeln!(
                        s,
                        "    at byte {}: expected {}, found {}",
                        g.offset, g.expected, g.found
                    );
                }
            }
        }
        if let Some(p) = &self.problem {
            let mut e = p.to_string();
            // The path is already in the first line.
            if let Some(pp) = &p.path {
                e = e.replacen(&format!(": {}", pp.display()), "", 1);
            }
            let _ = writeln!(s, "  problem:  {e}");
        }
        s
    }
}

const MAX_LISTED_GAPS: usize = 10;

/// Walk one file. I/O errors are returned; damage is reported in the report.
pub fn check_file(path: &Path, lopts: &LayoutOpts, wopts: &WindowOpts) -> Result<CheckReport> {
    let mut src = MappedInput::open(path, wopts)?;
    let mut r = CheckReport {
        path: path.to_path_buf(),
        size: src.len(),
        ..Default::default()
    };
    let (layout, _) = match open_layout(&mut src, lopts) {
        Ok(x) => x,
        Err(e) if e.kind == crate::error::Kind::Malformed => {
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
            Err(e) if e.kind == crate::error::Kind::Malformed => {
                r.problem = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(r)
}

/// `mmkit check FILE…`: print a report per file; exit 3 if any is not clean.
pub fn run_many(inputs: &[PathBuf], lopts: &LayoutOpts, wopts: &WindowOpts) -> Result<i32> {
    if inputs.is_empty() {
        return Err(Error::usage("check needs at least one file"));
    }
    let mut code = exit::OK;
    for p in inputs {
        let r = check_file(p, lopts, wopts)?;
        print!("{}", r.render());
        if !r.clean() {
            code = exit::MALFORMED;
        }
    }
    Ok(code)
}
