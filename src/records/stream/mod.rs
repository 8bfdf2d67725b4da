//! Live data: `split -` (standard input), `split FIFO`, and `split FILE
//! --follow` (a file another process is still appending to).
//!
//! The same rules as a split of a file at rest — whole records, a piece
//! never over `--size` (a record too large for one stops the stream), a temporary
//! name and a rename, no clobber, a manifest — with the records written through to
//! the current piece as they arrive: memory stays flat (one 256 KiB buffer)
//! and when the disk is slower than the input, the writer waits and the
//! pipe pushes back. Pieces also close after `--records N`, at the first
//! record after `--seconds N` or when the stream idles that long; `--ring N`
//! keeps the newest N; `--exec CMD` runs on each. SIGINT, SIGTERM, SIGHUP
//! and a SIGPIPE sent with `kill` finish the current piece at its last
//! whole record and rename it into place: these records exist nowhere
//! else. SIGUSR1 prints the running counts and the split carries on
//! ([`status`]). Pieces end in `.pcap`, `.pcapng` or `.dat`, after the
//! layout of the stream (a FIFO or a pipe has no name to take it from).
//!
//! A pcapng stream is framed block by block in [`pcapng`]: its pieces
//! begin with the section prefix, as a pcapng file's split pieces do.

mod exec;
mod names;
mod pcapng;
mod piece;
mod ring;
mod sink;
mod source;
mod status;

use super::layout::{Layout, LayoutKind, LayoutOpts};
use super::output::{OutOpts, WriteMode};
use super::pieces::{Manifest, ManifestLog, Namer, check_prefix, name_parts};
use crate::error::{Context, Error, Kind, Result};
use exec::Exec;
pub(crate) use exec::words as exec_words;
pub(crate) use names::check as check_name_time;
pub(crate) use ring::Bounds;
use sink::Sink;
pub(crate) use sink::{Done, Rotation};
use source::{Event, Source};
use status::{Counts, Status};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
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
    pub(crate) ring: Bounds,
    pub(crate) print_names: bool,
    /// `--name-time FMT` (checked), `--align`.
    pub(crate) name_time: Option<String>,
    pub(crate) align: bool,
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

/// The input's name in the manifest and the status line.
fn input_name(o: &StreamOpts) -> String {
    if o.input.as_os_str() == "-" {
        return "stdin".into();
    }
    o.input
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// `--follow` takes a regular file that grows: a pipe, a device or a
/// socket has no length to follow (a pipe's "length" is 0 however much
/// flows through it, /dev/null's never grows).
fn check_followable(m: &std::fs::Metadata, what: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let t = m.file_type();
    let kind = match () {
        _ if t.is_file() => return Ok(()),
        _ if t.is_fifo() => "a pipe (FIFO)",
        _ if t.is_char_device() => "a character device",
        _ if t.is_block_device() => "a block device",
        _ if t.is_socket() => "a socket",
        _ if t.is_dir() => "a directory",
        _ => "not a regular file",
    };
    Err(Error::usage(format!(
        "{} is {kind}: --follow follows a regular file as another process appends to it; \
         read a pipe or a device as a stream, without --follow (`mmkit split - …` for \
         standard input, `mmkit split FIFO …` for a named pipe)",
        what.display()
    )))
}

fn open_input(o: &StreamOpts, status: &mut Status) -> Result<File> {
    if o.input.as_os_str() == "-" {
        let fd = std::io::stdin()
            .as_fd_owned()
            .context("cannot use standard input")?;
        let f = File::from(fd);
        if o.follow {
            let m = f.metadata().context("cannot stat standard input")?;
            check_followable(&m, std::path::Path::new("standard input"))?;
        }
        return Ok(f);
    }
    let m = std::fs::metadata(&o.input)
        .context("cannot open input")
        .map_err(|e| e.with_path(&o.input))?;
    if o.follow {
        check_followable(&m, &o.input)?;
    }
    use std::os::unix::fs::FileTypeExt;
    if !m.file_type().is_fifo() {
        return File::open(&o.input)
            .context("cannot open input")
            .map_err(|e| e.with_path(&o.input));
    }
    log::info!(
        "{}: waiting for a writer to open the FIFO",
        o.input.display()
    );
    // open(2) waits for the writer; SIGUSR1 interrupts it (EINTR) to
    // have the counts printed.
    let flags = nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC;
    loop {
        match nix::fcntl::open(&o.input, flags, nix::sys::stat::Mode::empty()) {
            Ok(fd) => return Ok(File::from(fd)),
            Err(nix::errno::Errno::EINTR) => {
                if crate::sys::fault::status_asked() {
                    status.report(true);
                }
            }
            Err(e) => return Err(Error::errno("cannot open input", e).with_path(&o.input)),
        }
    }
}

/// The write end of the wake pipe, known to the signal handlers while it
/// lives: they forget it before it is closed (its number may be reused).
struct Wake(OwnedFd);

impl Drop for Wake {
    fn drop(&mut self) {
        crate::sys::fault::graceful(-1);
        crate::sys::fault::status_on_usr1(-1);
    }
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
    status: Status,
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
        match ev {
            Event::Data(0) => self.status.ask(),
            Event::Data(n) => self.end += n,
            _ => {}
        }
        Ok(ev)
    }

    /// Before a wait for input: the counts, when SIGUSR1 asked for them or
    /// the status line is due.
    fn show(&mut self, sink: &Sink) {
        if self.status.due() {
            let (pieces, records, dropped) = sink.counts();
            let bytes = self.offset + self.avail().len() as u64;
            self.status.show(Counts {
                pieces,
                records,
                bytes,
                dropped,
            });
        }
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
        w.status.answer(w.offset + w.avail().len() as u64);
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
    /// The pieces' extension (README: "EXT `.pcap`, `.pcapng` or `.dat`
    /// from the layout").
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
    // Non-blocking: the handlers never wait on it; the reader drains it.
    let (wake_r, wake_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .context("cannot create the wake pipe")?;
    let wake_w = Wake(wake_w);
    // From here on SIGUSR1 asks for the counts, also while a FIFO waits
    // for its writer.
    crate::sys::fault::status_on_usr1(wake_w.0.as_raw_fd());
    let name = input_name(o);
    let mut status = Status::new(&name);
    let file = open_input(o, &mut status)?;
    let mode = file
        .metadata()
        .map(|m| OutOpts::mode_of(&m))
        .unwrap_or(0o600);
    let mut src = Source::new(file, o.input.clone(), o.follow, o.idle, wake_r, o.map);
    let mut w = Walk {
        buf: vec![0u8; BUF],
        at: 0,
        end: 0,
        offset: 0,
        status,
    };
    let (framing, header) = read_header(&mut w, &mut src, &o.layout)?;
    let hdr = header.len() as u64;
    if o.rotation.size <= hdr {
        return Err(Error::usage(format!(
            "--size {} leaves no room for records after the {hdr}-byte file header",
            o.rotation.size
        )));
    }
    let prefix = if o.input.as_os_str() == "-" {
        o.prefix.clone().unwrap_or_else(|| "stdin".into())
    } else {
        name_parts(&o.input, o.prefix.as_deref()).0
    };
    let namer = Namer {
        dir: o.out_dir.clone(),
        prefix,
        ext: framing.ext().to_string(),
        width: STREAM_WIDTH,
    };
    // A ring continues the pieces and the manifest already in its
    // directory (they count in it).
    let first = if o.ring.any() {
        namer.prepare(true)?;
        ring::next_number(&namer)
    } else {
        namer.prepare(o.force)?;
        0
    };
    let head = Manifest {
        input: name,
        input_bytes: 0,
        layout: framing.describe(),
        complete: false,
        pieces: Vec::new(),
    };
    let claim = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let manifest = if first > 0 {
        ManifestLog::resume(&namer.manifest(), &head, &claim)?
    } else {
        ManifestLog::create(&namer.manifest(), &head, &claim)?
    };
    let out = OutOpts {
        force: o.force,
        sync: o.sync,
        mode,
    };
    let ring_namer = namer.clone();
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
    sink.next = first;
    sink.resumed = first > 0;
    sink.print_names = o.print_names;
    sink.naming = names::Naming {
        time: o.name_time.clone().map(|f| (f, ring_namer.ext.clone())),
        align: o.rotation.seconds.filter(|_| o.align),
    };
    // From here on a terminating signal finishes the current piece.
    crate::sys::fault::graceful(wake_w.0.as_raw_fd());
    let describe = framing.describe();
    let r = match framing {
        Framing::Records(layout) => pump(&mut w, &mut src, &mut sink, &layout),
        Framing::Pcapng(prefix, max) => pcapng::pump(&mut w, &mut src, &mut sink, prefix, max),
    };
    let (signal, failure) = match r {
        Ok(sig) => (sig, None),
        Err(e) => (None, Some(e)),
    };
    w.status.clear();
    let done = sink.finish(failure.as_ref().map(|e| e.kind));
    drop(wake_w);
    if let Some(e) = failure {
        return Err(e);
    }
    let done = done?;
    let kept = if o.ring.any() {
        ring::kept(&ring_namer, first)
    } else {
        done.iter().filter(|d| d.path.exists()).count()
    };
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
        w.show(sink);
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
