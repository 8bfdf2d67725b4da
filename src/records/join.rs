//! join: pieces back into one file. Every piece must carry the same file
//! header and walk cleanly under the layout; the header is written once,
//! then each piece's records in the order given. The result of joining the
//! pieces of a split is byte-identical to the original.

use super::input::{Input, WindowOpts};
use super::layout::LayoutOpts;
use super::output::{MappedWriter, OutputFile, WriteMode, check_absent, kernel_copy};
use super::walk::{Walker, open_layout};
use crate::error::{Error, Kind, Result};
use crate::ui::Progress;
use std::path::PathBuf;

pub(crate) struct JoinOpts {
    pub(crate) pieces: Vec<PathBuf>,
    pub(crate) output: PathBuf,
    pub(crate) write: WriteMode,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    pub(crate) layout: LayoutOpts,
    pub(crate) window: WindowOpts,
}

#[derive(Debug, Default)]
pub(crate) struct JoinReport {
    pub(crate) layout: String,
    pub(crate) pieces: usize,
    pub(crate) records: u64,
    pub(crate) bytes: u64,
}

pub(crate) fn run(o: &JoinOpts) -> Result<JoinReport> {
    if o.pieces.is_empty() {
        return Err(Error::usage("join needs at least one piece"));
    }
    check_absent(&o.output, o.force)?;
    let mut inputs = Vec::with_capacity(o.pieces.len());
    let mut header: Option<Vec<u8>> = None;
    let mut layout_desc = String::new();
    let mut records = 0u64;
    let mut total = 0u64;
    let mut layout_first = None;
    for p in &o.pieces {
        let wopts = match o.write {
            WriteMode::Mmap => o.window.mapped(),
            WriteMode::Kernel => o.window,
        };
        let mut src = Input::open(p, &wopts)?;
        let (layout, h) = open_layout(&mut src, &o.layout)?;
        match (&header, &layout_first) {
            (None, _) => {
                total = h.len() as u64;
                layout_desc = layout.describe();
                header = Some(h.clone());
                layout_first = Some(layout.clone());
            }
            (Some(h0), Some(l0)) => {
                if *l0 != layout {
                    return Err(Error::malformed(format!(
                        "this piece's layout ({}) differs from the first piece's ({})",
                        layout.describe(),
                        l0.describe()
                    ))
                    .with_path(p));
                }
                if let Some(i) = h0.iter().zip(&h).position(|(a, b)| a != b) {
                    return Err(Error::malformed(format!(
                        "this piece's file header differs from {}'s: not a piece of the same file",
                        o.pieces[0].display()
                    ))
                    .with_path(p)
                    .at(i as u64));
                }
            }
            _ => unreachable!(),
        }
        let hdr = layout.header_len as u64;
        let mut w = Walker::new(&layout, hdr, src.len());
        while w.next(&mut src)?.is_some() {
            records += 1;
        }
        src.unmap();
        total += src.len() - hdr;
        inputs.push((src, hdr));
    }
    let header = header.unwrap_or_default();
    let out = OutputFile::create_with(
        &o.output,
        total,
        o.force,
        o.sync,
        o.write == WriteMode::Mmap,
    )?;
    let mut progress = Progress::new("join", total);
    let mut at = header.len() as u64;
    match o.write {
        WriteMode::Kernel => {
            out.write_at(&header, 0)?;
            for (src, hdr) in inputs.iter_mut() {
                let n = src.len() - *hdr;
                kernel_copy(src.file(), src.path(), *hdr, out.file(), &o.output, at, n)?;
                at += n;
                progress.update(at, "");
            }
        }
        WriteMode::Mmap => {
            let mut w = MappedWriter::new(&out);
            w.write(&header, 0)?;
            for (src, hdr) in inputs.iter_mut() {
                let n = src.len() - *hdr;
                w.copy_from(src, *hdr, at, n)?;
                src.unmap();
                at += n;
                progress.update(at, "");
            }
            w.finish()?;
        }
    }
    if at != total {
        return Err(
            Error::new(Kind::InputChanged, "a piece changed size while joining")
                .with_path(&o.output),
        );
    }
    out.commit()?;
    progress.finish();
    Ok(JoinReport {
        layout: layout_desc,
        pieces: o.pieces.len(),
        records,
        bytes: total,
    })
}
