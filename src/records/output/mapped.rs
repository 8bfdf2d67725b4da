//! Writing an already-sized output through mapping windows.

use super::OutputFile;
use crate::error::{Context, Error, Kind, Result, ResultExt};
use crate::records::input::Input;
use crate::sys::fault::Role;
use crate::sys::map::{Mapping, Spec};
use crate::sys::{self, explain};
use nix::errno::Errno;

/// Writes an already-sized output through mapping windows.
pub(crate) struct MappedWriter<'a> {
    out: &'a OutputFile,
    cur: Option<(u64, Mapping)>,
    window: usize,
}

impl<'a> MappedWriter<'a> {
    pub(crate) fn new(out: &'a OutputFile) -> MappedWriter<'a> {
        MappedWriter {
            out,
            cur: None,
            window: 4 << 20,
        }
    }

    fn flush_current(&mut self) -> Result<()> {
        if let Some((start, m)) = self.cur.take() {
            // msync before munmap (the drop): the order matters to mmap's
            // contract. MS_ASYNC: durability is the commit's fsync, which
            // writes back the pages dirtied through the mapping too.
            m.flush(false)
                .context("msync failed")
                .path(&self.out.dest)
                .at(start)?;
        }
        Ok(())
    }

    /// The writable bytes of the output from `off` to the end of its window.
    fn window_for(&mut self, off: u64) -> Result<&mut [u8]> {
        let page = sys::page_size() as u64;
        let hit = matches!(&self.cur, Some((s, m)) if off >= *s && off < *s + m.len() as u64);
        if !hit {
            self.flush_current()?;
            let start = off / page * page;
            let len = (self.window as u64).min(self.out.len - start) as usize;
            // The output was sized to its final length before this mapping
            // (OutputFile::create_with), so every mapped page is inside the
            // file. A full disk on a sparse file would still SIGBUS: the
            // mapping is guarded, the handler reports it and removes the
            // temporary file.
            let spec = Spec {
                offset: start,
                len,
                writable: true,
                populate: false,
            };
            let m =
                Mapping::new(&self.out.file, spec, Role::Output, &self.out.dest).map_err(|e| {
                    let n = Errno::from_raw(e.raw_os_error().unwrap_or(0));
                    Error::errno("cannot map the output", n)
                        .with_path(&self.out.dest)
                        .at(start)
                        .hint(explain::mmap(n, true, len))
                })?;
            self.cur = Some((start, m));
        }
        let Some((s, m)) = self.cur.as_mut() else {
            return Err(Error::new(Kind::Io, "no output window"));
        };
        let rel = (off - *s) as usize;
        let dest = &self.out.dest;
        let bytes = m
            .bytes_mut()
            .ok_or_else(|| Error::new(Kind::Io, "output mapped read-only").with_path(dest))?;
        Ok(&mut bytes[rel..])
    }

    /// Write `buf` at `off` through the mapping.
    pub(crate) fn write(&mut self, mut buf: &[u8], mut off: u64) -> Result<()> {
        if off + buf.len() as u64 > self.out.len {
            return Err(
                Error::new(Kind::Io, "write past the sized end of the output")
                    .with_path(&self.out.dest),
            );
        }
        while !buf.is_empty() {
            let dst = self.window_for(off)?;
            let n = dst.len().min(buf.len());
            dst[..n].copy_from_slice(&buf[..n]);
            buf = &buf[n..];
            off += n as u64;
        }
        Ok(())
    }

    /// Copy a range of an input into the output through both mappings.
    pub(crate) fn copy_from(
        &mut self,
        src: &mut Input,
        mut src_off: u64,
        mut dst_off: u64,
        len: u64,
    ) -> Result<()> {
        let end = src_off + len;
        let chunk = src.max_chunk().min(4 << 20);
        while src_off < end {
            let dst = self.window_for(dst_off)?;
            let n = (dst.len() as u64).min(end - src_off).min(chunk as u64) as usize;
            let s = src.bytes(src_off, n)?;
            dst[..n].copy_from_slice(s);
            src_off += n as u64;
            dst_off += n as u64;
        }
        Ok(())
    }

    /// msync and munmap the last window.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.flush_current()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::output::tests::{KEEP, dir};

    #[test]
    fn mapped_writer_writes_across_windows() {
        let d = dir("m");
        let dest = d.join("m.bin");
        let _ = std::fs::remove_file(&dest);
        let o = OutputFile::create(&dest, 200_001, &KEEP, true).unwrap();
        let data: Vec<u8> = (0..200_001u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut w = MappedWriter::new(&o);
        w.window = 64 << 10;
        w.write(&data[..1], 0).unwrap();
        w.write(&data[1..], 1).unwrap();
        assert!(w.write(b"x", 200_001).is_err());
        w.finish().unwrap();
        o.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
    }
}
