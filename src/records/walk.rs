//! The packet walk: from the end of the file header to the end of the file,
//! record by record, reading only record headers (through the input's
//! mapping windows), and naming the byte offset of any damage.

use super::input::Input;
use super::layout::{Layout, LayoutOpts};
use crate::error::{Error, Result};
use std::collections::VecDeque;

/// One record: where it starts and how long it is (header included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) seq: Option<u32>,
}

impl Record {
    pub(crate) fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// Read the file header and resolve the layout. Errors name the offset: an
/// empty file, or a file shorter than its header.
pub(crate) fn open_layout(src: &mut Input, opts: &LayoutOpts) -> Result<(Layout, Vec<u8>)> {
    let len = src.len();
    if len == 0 {
        return Err(Error::malformed("empty file: no file header")
            .with_path(src.path())
            .at(0));
    }
    let mut head = vec![0u8; len.min(24) as usize];
    src.read_exact_at(&mut head, 0)?;
    let layout = opts.resolve(&head).map_err(|e| {
        if e.path.is_none() {
            e.with_path(src.path())
        } else {
            e
        }
    })?;
    if (layout.header_len as u64) > len {
        return Err(Error::malformed(format!(
            "truncated file header: the file has {len} bytes, the {} layout's header is {}",
            layout.name, layout.header_len
        ))
        .with_path(src.path())
        .at(len));
    }
    let mut header = vec![0u8; layout.header_len];
    src.read_exact_at(&mut header, 0)?;
    Ok((layout, header))
}

/// Most records decoded ahead in one batch.
const BATCH: usize = 256;

/// Iterates the records of `[start, end)`.
pub(crate) struct Walker {
    layout: Layout,
    /// Prefetched up to this offset.
    fetched: u64,
    /// Offset of the next record returned.
    pos: u64,
    end: u64,
    /// Valid records decoded ahead from a read buffer, from `pos` on.
    queue: VecDeque<Record>,
}

impl Walker {
    pub(crate) fn new(layout: &Layout, start: u64, end: u64) -> Walker {
        Walker {
            layout: layout.clone(),
            fetched: start,
            pos: start,
            end,
            queue: VecDeque::new(),
        }
    }

    /// Offset of the next record.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The next record, `None` at the end, or an error naming the offset.
    pub(crate) fn next(&mut self, src: &mut Input) -> Result<Option<Record>> {
        if self.queue.is_empty() && self.pos < self.end {
            self.fill(src)?;
        }
        if let Some(r) = self.queue.pop_front() {
            self.prefetch(src);
            self.pos = r.end();
            return Ok(Some(r));
        }
        self.next_one(src)
    }

    /// Decode the valid records ahead: over a read buffer all those whose
    /// headers it holds (up to [`BATCH`]), one call into the input per
    /// batch instead of per record; over a mapping the next one. Anything
    /// doubtful (a bad header, a record running past the end) stops the
    /// batch; [`Self::next_one`] then reports it exactly as before.
    fn fill(&mut self, src: &mut Input) -> Result<()> {
        let l = &self.layout;
        let h = l.rec_header_len;
        if self.end - self.pos < h as u64 {
            return Ok(());
        }
        let buf = src.ahead(self.pos, h)?;
        let avail = (buf.len() as u64).min(self.end - self.pos);
        let mut p = 0u64;
        while p + h as u64 <= avail && self.queue.len() < BATCH {
            let rh = &buf[p as usize..p as usize + h];
            let Ok(len) = l.record_len(rh) else { break };
            if len == 0 || len > self.end - self.pos - p {
                break;
            }
            self.queue.push_back(Record {
                offset: self.pos + p,
                len,
                seq: l.seq(rh),
            });
            p += len;
        }
        let n = self.queue.len() as u32;
        src.touched(n.saturating_sub(1));
        Ok(())
    }

    /// Record headers are a dependent chain (each length says where the
    /// next header is), so over a mapping hide memory latency by
    /// prefetching a steady trickle of cache lines 32 KiB ahead of `pos`
    /// (measured best on x86_64: user time of a 1 GiB pcap walk 0.21 s →
    /// 0.09 s). A no-op over a read buffer.
    fn prefetch(&mut self, src: &Input) {
        const AHEAD: u64 = 32 << 10;
        const BURST: u64 = 4 << 10;
        if self.fetched < self.pos + AHEAD {
            let from = self.fetched.max(self.pos);
            let to = (self.pos + AHEAD + BURST).min(self.end);
            src.prefetch(from, (to - from) as usize);
            self.fetched = to;
        }
    }

    /// The next record, one header at a time: the end, or the error that
    /// stopped [`Self::fill`].
    fn next_one(&mut self, src: &mut Input) -> Result<Option<Record>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let l = &self.layout;
        let h = l.rec_header_len;
        let left = self.end - self.pos;
        if left < h as u64 {
            return Err(Error::malformed(format!(
                "truncated record header: {left} bytes left, a record header is {h}"
            ))
            .with_path(src.path())
            .at(self.pos));
        }
        let rh = src.bytes(self.pos, h)?;
        let len = match l.record_len(rh) {
            Ok(n) => n,
            Err(bad) => {
                return Err(Error::malformed(bad.describe(l))
                    .with_path(src.path())
                    .at(self.pos));
            }
        };
        let seq = l.seq(rh);
        if len > left {
            return Err(Error::malformed(format!(
                "truncated last record: its header says {len} bytes, only {left} remain"
            ))
            .with_path(src.path())
            .at(self.pos));
        }
        self.prefetch(src);
        let r = Record {
            offset: self.pos,
            len,
            seq,
        };
        self.pos += len;
        Ok(Some(r))
    }
}
