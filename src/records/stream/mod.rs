//! Live data: `split -` (standard input), `split FIFO`, and `split FILE
//! --follow` (a file another process is still appending to).
//!
//! The same rules as a split of a file at rest — whole records, a piece
//! never over `--size` (a single larger record goes alone), a temporary
//! name and a rename, no clobber, a manifest — with the records written through to
//! the current piece as they arrive: memory stays flat (one 256 KiB buffer)
//! and when the disk is slower than the input, the writer waits and the
//! pipe pushes back. Pieces also close after `--records N`, at the first
//! record after `--seconds N` or when the stream idles that long; `--ring N`
//! keeps the newest N; `--exec CMD` runs on each. SIGINT, SIGTERM and SIGHUP
//! finish the current piece at its last whole record and rename it into
//! place: these records exist nowhere else.
//!
//! A pcapng stream is framed block by block in [`pcapng`]: its pieces
//! begin with the section prefix, as a pcapng file's split pieces do.

mod exec;
mod pcapng;
mod sink;
mod source;

use super::layout::{Layout, LayoutKind, LayoutOpts};
use super::output::{OutOpts, WriteMode};
use super::pieces::{Manifest, ManifestLog, Namer, check_prefix, name_parts};
use crate::error::{Context, Error, Kind, Result};
use exec::Exec;
pub(crate) use exec::words as exec_words;
use sink::Sink;
pub(crate) use sink::{Done, Rotation};
use source::{Event, Source};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) struct StreamOpts {
    /// `-` for standard input, a FIFO, or a file to follow.
    pub(crate) input: PathBuf,
    pub(crate) follow: bool,
    /// With `follow`: take the file through mapped windows (else pread).
    pub(crate) map: bool,
    pub(crate) idle: Option<Duration>,
    pub(crate) out_dir: PathBuf,
    pub(crate) prefix: Option<String>,
    pub(crate) rotation: Rotation,
    pub(crate) ring: Option<usize>,
    pub(crate) exec: Vec<String>,
    pub(crate) write: WriteMode,
    pub(crate) force: bool,
    pub(crate) sync: bool,
    pub(crate) layout: LayoutOpts,
}

#[derive(Debug)]
pub(crate) struct StreamReport {
    pub(crate) layout: String,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    pub(crate) pieces: Vec<Done>,
    /// Pieces still on disk (fewer than `pieces` with `--ring`).
    pub(crate) kept: usize,
    /// The terminating signal that ended the stream, if one did.
    pub(crate) signal: Option<i32>,
}

/// Digits of stream piece numbers: enough that names sort in time order
/// for a million pieces.
const STREAM_WIDTH: usize = 6;
/// The read buffer: the only memory that grows with nothing. Records are
/// written straight from it, a run of them per read.
const BUF: usize = 256 << 10;

/// Is this input a stream (standard input, a FIFO, a socket, a character
/// device) rather than a file at rest?
pub(crate) fn is_stream(input: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    if input.as_os_str() == "-" {
        return true;
    }
    std::fs::metadata(input).is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket() || t.is_char_device()
    })
}

fn open_input(o: &StreamOpts) -> Result<(File, String)> {
    if o.input.as_os_str() == "-" {
        let fd = std::io::stdin()
            .as_fd_owned()
            .context("cannot use standard input")?;
        return Ok((File::from(fd), "stdin".into()));
    }
    if !o.follow {
        log::info!(
            "{}: waiting for a writer to open the FIFO",
            o.input.display()
        );
    }
    let f = File::open(&o.input)
        .context("cannot open input")
        .map_err(|e| e.with_path(&o.input))?;
    let name = o
        .input
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Ok((f, name))
}

/// `as_fd().try_clone_to_owned()` for stdin, named for readability.
trait OwnedStdin {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl OwnedStdin for std::io::Stdin {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }
}

/// The bytes of the stream, record by record, into the sink.
struct Walk {
    buf: Vec<u8>,
    /// Valid bytes in `buf` start at `at` and end at `end`.
    at: usize,
    end: usize,
    /// Stream offset of `buf[at]`.
    offset: u64,
}

impl Walk {
    fn avail(&self) -> &[u8] {
        &self.buf[self.at..self.end]
    }
    fn take(&mut self, n: usize) {
        self.at += n;
        self.offset += n as u64;
        if self.at == self.end {
            self.at = 0;
            self.end = 0;
        }
    }
    /// Read more (keeping unconsumed bytes); returns the event.
    fn fill(&mut self, src: &mut Source, deadline: Option<std::time::Instant>) -> Result<Event> {
        if self.at > 0 || self.end == 0 {
            // What is kept (at most an incomplete record header) goes just
            // before a page boundary, and the read lands on it: the kernel
            // copies out of the pipe's pages 1.5x slower into a buffer a
            // few bytes past a boundary (4K aliasing, as for the file walk's
            // pread buffer; docs/benchmarks.md).
            let k = self.end - self.at;
            let base = self.buf.as_ptr() as usize;
            let to = (ALIGN - (base + k) % ALIGN) % ALIGN;
            self.buf.copy_within(self.at..self.end, to);
            self.at = to;
            self.end = to + k;
        }
        let ev = src.read(&mut self.buf[self.end..], deadline)?;
        if let Event::Data(n) = ev {
            self.end += n;
        }
        Ok(ev)
    }
}

/// Where reads land in the buffer (a multiple of this address: 4 KiB, the
/// low 12 address bits that 4K aliasing compares).
const ALIGN: usize = 4096;

/// Read until `need` bytes are buffered (false: the stream ended first).
fn fill_to(w: &mut Walk, src: &mut Source, need: usize) -> Result<bool> {
    if w.buf.len() < need + ALIGN {
        w.buf.resize(need + ALIGN, 0);
    }
    while w.avail().len() < need {
        match w.fill(src, None)? {
            Event::Data(_) => {}
            Event::Stop(sig) => {
                return Err(Error::new(
                    Kind::Io,
                    format!("interrupted by signal {sig} before the file header was complete"),
                ));
            }
            Event::End | Event::Timeout => return Ok(false),
        }
    }
    Ok(true)
}

/// How the stream's records are framed.
enum Framing {
    /// A record layout (pcap, seed, custom).
    Records(Layout),
    /// pcapng blocks: the section prefix after the first SHB, the largest block.
    Pcapng(crate::pcapng::Prefix, u32),
}

impl Framing {
    fn describe(&self) -> String {
        match self {
            Framing::Records(l) => l.describe(),
            Framing::Pcapng(..) => "pcapng".into(),
        }
    }
    fn ext(&self) -> &'static str {
        match self {
            Framing::Records(l) if l.name == "pcap" => ".pcap",
            Framing::Records(_) => ".dat",
            Framing::Pcapng(..) => ".pcapng",
        }
    }
}

/// Read the file header: enough bytes to resolve the layout, then all of
/// it (pcapng: the first Section Header Block, Section Length -1).
fn read_header(w: &mut Walk, src: &mut Source, lopts: &LayoutOpts) -> Result<(Framing, Vec<u8>)> {
    fill_to(w, src, 24)?;
    let ng = crate::pcapng::looks_like_pcapng(w.avail());
    if lopts.layout == LayoutKind::Pcapng || (ng && lopts.layout == LayoutKind::Auto) {
        if let Err(e) = crate::pcapng::detect(w.avail()) {
            return Err(Error::malformed(e.to_string()).at(0));
        }
        lopts.refuse_contradictions()?;
        lopts.refuse_for_pcapng()?;
        let max = super::pcapng::max_block(lopts);
        let (header, prefix) = pcapng::read_shb(w, src, max)?;
        return Ok((Framing::Pcapng(prefix, max), header));
    }
    let layout = lopts.resolve(w.avail())?;
    let need = layout.header_len;
    if !fill_to(w, src, need)? {
        return Err(Error::malformed(format!(
            "the stream ended after {} bytes, inside its {need}-byte file header",
            w.avail().len()
        ))
        .at(w.offset));
    }
    let header = w.avail()[..need].to_vec();
    w.take(need);
    Ok((Framing::Records(layout), header))
}

pub(crate) fn run(o: &StreamOpts) -> Result<StreamReport> {
    if let Some(p) = &o.prefix {
        check_prefix(p)?;
    }
    let (file, name) = open_input(o)?;
    let mode = file
        .metadata()
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let (wake_r, wake_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create the wake pipe")?;
    let mut src = Source::new(file, o.input.clone(), o.follow, o.idle, wake_r, o.map);
    let mut w = Walk {
        buf: vec![0u8; BUF],
        at: 0,
        end: 0,
        offset: 0,
    };
    let (framing, header) = read_header(&mut w, &mut src, &o.layout)?;
    let hdr = header.len() as u64;
    if o.rotation.size <= hdr {
        return Err(Error::usage(format!(
            "--size {} leaves no room for records after the {hdr}-byte file header",
            o.rotation.size
        )));
    }
    let (prefix, ext) = if o.input.as_os_str() == "-" {
        (
            o.prefix.clone().unwrap_or_else(|| "stdin".into()),
            framing.ext().to_string(),
        )
    } else {
        name_parts(&o.input, o.prefix.as_deref())
    };
    let namer = Namer {
        dir: o.out_dir.clone(),
        prefix,
        ext,
        width: STREAM_WIDTH,
    };
    namer.prepare(o.force)?;
    let head = Manifest {
        input: name,
        input_bytes: 0,
        layout: framing.describe(),
        complete: false,
        pieces: Vec::new(),
    };
    let manifest = ManifestLog::create(&namer.manifest(), &head, o.sync)?;
    let out = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let mut sink = Sink::new(
        namer,
        out,
        o.write,
        header,
        o.rotation,
        o.ring,
        Exec::new(o.exec.clone()),
        manifest,
    );
    // From here on a terminating signal finishes the current piece.
    crate::sys::fault::graceful(wake_w.as_raw_fd());
    let describe = framing.describe();
    let r = match framing {
        Framing::Records(layout) => pump(&mut w, &mut src, &mut sink, &layout),
        Framing::Pcapng(prefix, max) => pcapng::pump(&mut w, &mut src, &mut sink, prefix, max),
    };
    let (signal, failure) = match r {
        Ok(sig) => (sig, None),
        Err(e) => (None, Some(e)),
    };
    let done = sink.finish()?;
    drop(wake_w);
    if let Some(e) = failure {
        return Err(e);
    }
    let kept = done.iter().filter(|d| d.path.exists()).count();
    Ok(StreamReport {
        layout: describe,
        bytes: w.offset,
        records: done.iter().map(|d| d.records).sum(),
        pieces: done,
        kept,
        signal,
    })
}

/// Move records from the stream to the sink until the end of the stream or
/// a signal (returned). A malformed record is an error after the records
/// before it are safe (the caller finishes the sink either way).
///
/// Only record headers are looked at: the bytes read are written to the
/// piece straight from the read buffer, one write per run of records that
/// go to the same piece (and the rest of a record that spans reads), all
/// of them before the next wait for input. Only an incomplete record
/// header stays in the buffer across reads.
fn pump(w: &mut Walk, src: &mut Source, sink: &mut Sink, layout: &Layout) -> Result<Option<i32>> {
    let rh_len = layout.rec_header_len;
    if w.buf.len() < 2 * rh_len + ALIGN {
        w.buf.resize(2 * rh_len + ALIGN, 0);
    }
    let mut rec_start = w.offset;
    // Bytes of the current record's body not yet seen.
    let mut body: u64 = 0;
    loop {
        // Walk what is buffered: `run..pos` are bytes of begun records
        // not yet written.
        let (mut run, mut pos, end) = (w.at, w.at, w.end);
        let mut bad = None;
        while pos < end {
            if body > 0 {
                let n = ((end - pos) as u64).min(body) as usize;
                pos += n;
                body -= n as u64;
                if body == 0 {
                    sink.end_record();
                }
                continue;
            }
            if end - pos < rh_len {
                break;
            }
            rec_start = w.offset + (pos - w.at) as u64;
            let rh = &w.buf[pos..pos + rh_len];
            let len = match layout.record_len(rh) {
                Ok(len) => len,
                Err(b) => {
                    bad = Some(Error::malformed(b.describe(layout)).at(rec_start));
                    break;
                }
            };
            if sink.begin_record(len, rh, &w.buf[run..pos])? {
                run = pos;
            }
            pos += rh_len;
            body = len - rh_len as u64;
            if body == 0 {
                sink.end_record();
            }
        }
        sink.write(&w.buf[run..pos])?;
        w.take(pos - w.at);
        if body == 0 {
            // An incomplete header (if any) starts here.
            rec_start = w.offset;
        }
        if let Some(e) = bad {
            return Err(e);
        }
        sink.tick()?;
        let mid_record = body > 0 || !w.avail().is_empty();
        let deadline = if mid_record { None } else { sink.deadline() };
        match w.fill(src, deadline)? {
            Event::Data(_) => {}
            Event::Timeout => {
                // --seconds: the stream idled that long after a record.
                sink.close()?;
            }
            Event::Stop(sig) => return Ok(Some(sig)),
            Event::End => {
                if mid_record {
                    return Err(Error::malformed(format!(
                        "the stream ended inside a record ({} of its bytes received); the records before it are kept",
                        w.offset + w.avail().len() as u64 - rec_start
                    ))
                    .at(rec_start));
                }
                return Ok(None);
            }
        }
    }
}
