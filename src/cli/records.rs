//! Command-line definitions for the record-file commands: split, join,
//! check, recover, copy, gen, demo. The work is done in the library modules.

use super::Outcome;
use crate::decimal::Frac;
use crate::error::{Context, Error, Result};
use crate::num::{num_arg, size_arg};
use crate::records::copy::Method;
use crate::records::input::{Access, WindowOpts};
use crate::records::layout::{Endian, LayoutKind, LayoutOpts};
use crate::records::output::WriteMode;
use crate::records::{check, copy, demo, generate, join, recover, split, stream};
use argh::FromArgs;
use std::io::Write;
use std::path::PathBuf;

/// What a failed write to the output is called.
pub(super) const OUT: &str = "cannot write to the output";

/// fsync outputs? Yes unless `--no-sync`; `--sync` (the old opt-in) is
/// accepted and means the default.
pub(super) fn durable(sync: bool, no_sync: bool) -> Result<bool> {
    if sync && no_sync {
        return Err(Error::usage("--sync and --no-sync contradict each other"));
    }
    Ok(!no_sync)
}

/// Adds the layout flags (shared by split, join, check and gen) to a
/// command struct; argh has no flattening.
macro_rules! with_layout_flags {
    // `windowed;` also adds the input window flags and `window_opts()`.
    (windowed; $(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        with_layout_flags! {
            $(#[$m])*
            pub struct $name {
                $($body)*
                /// mapping window size (default 64M on 64-bit, 16M on 32-bit)
                #[argh(option, from_str_fn(size_arg))]
                pub window: Option<u64>,
                /// keep the current window resident (mlock), after checking RLIMIT_MEMLOCK
                #[argh(switch)]
                pub lock: bool,
                /// how input is read: auto (measure mmap and pread on the input, keep the faster; -v tells), mmap or read (--follow: mapped windows unless read)
                #[argh(option, default = "Access::Auto")]
                pub access: Access,
            }
        }

        impl $name {
            fn window_opts(&self) -> WindowOpts {
                WindowOpts {
                    window: self.window,
                    lock: self.lock,
                    access: self.access,
                }
            }
        }
    };
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        pub struct $name {
            $($body)*
            /// record layout: auto (pcapng or pcap if the magic says so, else seed), seed, pcap, pcapng or custom
            #[argh(option, default = "LayoutKind::Auto")]
            pub layout: LayoutKind,
            /// byte order of the record header fields: le (default) or be
            #[argh(option)]
            pub endian: Option<Endian>,
            /// the length field counts the record header too (default: payload only)
            #[argh(switch)]
            pub len_includes_header: bool,
            /// file header length in bytes (seed: 136)
            #[argh(option, from_str_fn(size_arg))]
            pub header_len: Option<u64>,
            /// record header length in bytes (seed: 12)
            #[argh(option, from_str_fn(num_arg))]
            pub rec_header_len: Option<u64>,
            /// offset of the length field in the record header (seed: 8)
            #[argh(option, from_str_fn(num_arg))]
            pub len_offset: Option<u64>,
            /// width of the length field: 1, 2, 4 or 8 (default 4)
            #[argh(option, from_str_fn(num_arg))]
            pub len_width: Option<u64>,
            /// byte order of the length field (default: --endian)
            #[argh(option)]
            pub len_endian: Option<Endian>,
            /// magic (sync word) every record header starts with (seed: 0xEB90146F)
            #[argh(option, from_str_fn(num_arg))]
            pub magic: Option<u64>,
            /// offset of the magic in the record header (default 0)
            #[argh(option, from_str_fn(num_arg))]
            pub magic_offset: Option<u64>,
            /// width of the magic: 1, 2, 4 or 8 (default 4)
            #[argh(option, from_str_fn(num_arg))]
            pub magic_width: Option<u64>,
            /// do not check a magic
            #[argh(switch)]
            pub no_magic: bool,
            /// largest sane record, header included (default 64M; pcap: from the snaplen)
            #[argh(option, from_str_fn(size_arg))]
            pub max_record: Option<u64>,
            /// accept records with an empty payload
            #[argh(switch)]
            pub allow_empty: bool,
        }

        impl $name {
            pub(super) fn layout_opts(&self) -> LayoutOpts {
                LayoutOpts {
                    layout: self.layout,
                    endian: self.endian,
                    len_includes_header: self.len_includes_header,
                    header_len: self.header_len,
                    rec_header_len: self.rec_header_len,
                    len_offset: self.len_offset,
                    len_width: self.len_width,
                    len_endian: self.len_endian,
                    magic: self.magic,
                    magic_offset: self.magic_offset,
                    magic_width: self.magic_width,
                    no_magic: self.no_magic,
                    max_record: self.max_record,
                    allow_empty: self.allow_empty,
                }
            }
        }
    };
}

with_layout_flags! {
    windowed;
    /// split a record file into pieces of at most --size bytes at record boundaries
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "split",
        note = "Every piece is the file header plus whole records and never exceeds --size, except a single record larger than --size, which goes alone in its own piece (with a warning). Pieces are named PREFIX.NNNN.EXT (EXT from the input name; a stream's PREFIX.NNNNNN.EXT, EXT from the layout), numbered from 0, written under a temporary name and renamed when complete.",
        example = "mmkit split capture.pcap -o /mnt/usb --size 100M")]
    pub struct SplitArgs {
        /// the input: a file (opened read-only), - for standard input, or a FIFO
        #[argh(positional)]
        pub input: PathBuf,
        /// output directory (default: the current directory)
        #[argh(option, short = 'o', default = "PathBuf::from(\".\")")]
        pub out_dir: PathBuf,
        /// largest piece: K/M/G = 1024^n, KB/MB/GB = 1000^n (default 100M)
        #[argh(option, short = 's', default = "100 << 20", from_str_fn(size_arg))]
        pub size: u64,
        /// piece name prefix (default: the input name without its extension)
        #[argh(option)]
        pub prefix: Option<String>,
        /// how pieces are written: kernel (copy_file_range, default) or mmap
        #[argh(option, default = "WriteMode::default()")]
        pub write: WriteMode,
        /// replace existing pieces, and remove leftover pieces of an earlier split
        #[argh(switch, short = 'f')]
        pub force: bool,
        /// kept for old scripts: fsync is the default (each piece, then its directory)
        #[argh(switch)]
        pub sync: bool,
        /// do not fsync (faster; after a power cut a renamed piece may lack data)
        #[argh(switch)]
        pub no_sync: bool,
        /// print the pieces that would be written, write nothing
        #[argh(switch, short = 'n')]
        pub dry_run: bool,
        /// also close a piece after N records (like editcap -c)
        #[argh(option, from_str_fn(num_arg))]
        pub records: Option<u64>,
        /// streams: close a piece at the first record after N seconds, or when the stream idles that long (like tcpdump -G)
        #[argh(option, from_str_fn(num_arg))]
        pub seconds: Option<u64>,
        /// streams: keep only the newest N finished pieces (numbers keep growing)
        #[argh(option, from_str_fn(num_arg))]
        pub ring: Option<u64>,
        /// streams: keep the finished pieces' files (what --exec left of them) within SIZE bytes, the newest always kept
        #[argh(option, from_str_fn(size_arg))]
        pub ring_bytes: Option<u64>,
        /// streams: when a piece is finished, remove the oldest while the filesystem has less than SIZE free, the newest always kept
        #[argh(option, from_str_fn(size_arg))]
        pub keep_free: Option<u64>,
        /// streams: print each finished piece's path on stdout, one a line, as it is renamed into place (the report goes to stderr)
        #[argh(switch)]
        pub print_names: bool,
        /// streams: name pieces PREFIX.NNNNNN.TIME.EXT, TIME the UTC time of their first record in FMT (%Y %m %d %H %M %S %%)
        #[argh(option)]
        pub name_time: Option<String>,
        /// streams: with --seconds N, start pieces on multiples of N seconds of the clock (an hourly piece on the hour)
        #[argh(switch)]
        pub align: bool,
        /// streams: run CMD on each finished piece, one at a time ({} or the last argument is its path; no shell unless CMD is sh -c '...')
        #[argh(option)]
        pub exec: Option<String>,
        /// follow a file another process is still appending to
        #[argh(switch)]
        pub follow: bool,
        /// with --follow: end when the file has not grown for N seconds
        #[argh(option, from_str_fn(num_arg))]
        pub idle: Option<u64>,
    }
}

with_layout_flags! {
    windowed;
    /// join pieces back into one file, byte-identical to the original
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "join",
        note = "All pieces must carry the same file header and walk cleanly; the header is written once, then each piece's records in the order given.",
        example = "mmkit join capture.*.pcap -o capture.pcap")]
    pub struct JoinArgs {
        /// the pieces, in order
        #[argh(positional)]
        pub pieces: Vec<PathBuf>,
        /// the output file
        #[argh(option, short = 'o')]
        pub output: PathBuf,
        /// how the output is written: kernel (default) or mmap
        #[argh(option, default = "WriteMode::default()")]
        pub write: WriteMode,
        /// overwrite an existing output
        #[argh(switch, short = 'f')]
        pub force: bool,
        /// kept for old scripts: fsync is the default (the output, then its directory)
        #[argh(switch)]
        pub sync: bool,
        /// do not fsync (faster; after a power cut the output may lack data)
        #[argh(switch)]
        pub no_sync: bool,
        /// ignore the manifest beside the pieces (check them by content only)
        #[argh(switch)]
        pub no_manifest: bool,
    }
}

with_layout_flags! {
    windowed;
    /// walk every record and report count, sizes, sequence gaps and damage
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "check",
        note = "Every file is checked. Exit status 0 when every file is clean, 3 when one is malformed (the report names the byte offset); a file that cannot be read (missing, I/O error) is reported on stderr and its error's status (1 I/O, 8 permission, ...) outranks 3.",
        example = "mmkit check capture.pcap")]
    pub struct CheckArgs {
        /// the files to check
        #[argh(positional)]
        pub inputs: Vec<PathBuf>,
    }
}

with_layout_flags! {
    windowed;
    /// keep the longest prefix of whole records of a file cut by a power loss or a kill
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "recover",
        note = "Drops a torn last record, a zero-filled tail, and everything after the first implausible record (pcapng: the first block that is not whole and valid, or names an interface its section never described); writes the rest atomically to -o OUT (default: NAME.recovered.EXT beside FILE; for a split's temporary .NAME.mmkit-PID-N.tmp, from NAME) or truncates FILE with --in-place. A clean file is left alone (exit 0, nothing written). Exit 3 when the file header itself is damaged, 6 when the file is being written.",
        example = "mmkit recover /mnt/usb/capture.0007.pcap")]
    pub struct RecoverArgs {
        /// the damaged file
        #[argh(positional)]
        pub input: PathBuf,
        /// where to write the recovered prefix
        #[argh(option, short = 'o')]
        pub output: Option<PathBuf>,
        /// truncate FILE itself to the recovered prefix
        #[argh(switch)]
        pub in_place: bool,
        /// overwrite an existing output
        #[argh(switch, short = 'f')]
        pub force: bool,
        /// do not fsync (faster; after a power cut the output may lack data)
        #[argh(switch)]
        pub no_sync: bool,
        /// print the report, change nothing
        #[argh(switch, short = 'n')]
        pub dry_run: bool,
    }
}

/// copy a large file (mmap, read/write or in-kernel)
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "copy",
    note = "mmap sizes the destination with fallocate/ftruncate before mapping it; kernel uses copy_file_range, falling back to pread/pwrite; read is plain pread/pwrite; auto = kernel. Block devices and MTD partitions are copied whole; /proc files, pipes and FIFOs are read to their end; character devices with no size (/dev/zero) need --length.",
    example = "mmkit copy /dev/mtdblock3 /tmp/mtd3.bin"
)]
pub(super) struct CopyArgs {
    /// the source file
    #[argh(positional)]
    pub src: PathBuf,
    /// the destination file
    #[argh(positional)]
    pub dst: PathBuf,
    /// mmap, read, kernel or auto (default; = kernel)
    #[argh(option, short = 'm', default = "Method::Kernel")]
    pub method: Method,
    /// overwrite an existing destination
    #[argh(switch, short = 'f')]
    pub force: bool,
    /// kept for old scripts: fsync is the default (the copy, then its directory)
    #[argh(switch)]
    pub sync: bool,
    /// do not fsync (faster; after a power cut the copy may lack data)
    #[argh(switch)]
    pub no_sync: bool,
    /// mapping window size (default 64M on 64-bit, 16M on 32-bit)
    #[argh(option, from_str_fn(size_arg))]
    pub window: Option<u64>,
    /// copy exactly SIZE bytes from the start (needed for /dev/zero-like devices)
    #[argh(option, from_str_fn(size_arg))]
    pub length: Option<u64>,
    /// seconds to wait for a writer when the source is a FIFO (default 30)
    #[argh(option, default = "30", from_str_fn(num_arg))]
    pub fifo_wait: u64,
}

with_layout_flags! {
    /// generate a deterministic synthetic record file
    #[derive(FromArgs, Debug)]
    #[argh(subcommand, name = "gen",
        note = "The same flags give the same bytes on every machine. --sparse leaves payloads as holes, so multi-GiB test files cost little disk.",
        example = "mmkit gen test.pcap --layout pcap --size 1G")]
    pub struct GenArgs {
        /// the file to create
        #[argh(positional)]
        pub output: PathBuf,
        /// approximate total size (default 64M)
        #[argh(option, short = 's', default = "64 << 20", from_str_fn(size_arg))]
        pub size: u64,
        /// random seed (default 1)
        #[argh(option, default = "1", from_str_fn(num_arg))]
        pub seed: u64,
        /// leave payloads as holes (sparse file)
        #[argh(switch)]
        pub sparse: bool,
        /// smallest payload (default: pcap 46, seed 16; sparse 64K)
        #[argh(option, from_str_fn(size_arg))]
        pub min_payload: Option<u64>,
        /// largest payload (default: pcap 1500, seed 4000; sparse 256K)
        #[argh(option, from_str_fn(size_arg))]
        pub max_payload: Option<u64>,
        /// overwrite an existing file
        #[argh(switch, short = 'f')]
        pub force: bool,
    }
}

/// gen → split → check → join → compare, in a temporary directory
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "demo")]
pub(super) struct DemoArgs {
    /// where to make the temporary directory (default: $TMPDIR or /tmp)
    #[argh(option)]
    pub dir: Option<PathBuf>,
    /// size of the generated files (default 48M)
    #[argh(option, default = "48 << 20", from_str_fn(size_arg))]
    pub size: u64,
    /// piece size (default 10M)
    #[argh(option, default = "10 << 20", from_str_fn(size_arg))]
    pub piece: u64,
    /// keep the temporary directory
    #[argh(switch)]
    pub keep: bool,
}

pub(super) fn split(a: SplitArgs, out: &mut dyn Write) -> Result<Outcome> {
    if a.records == Some(0)
        || a.ring == Some(0)
        || a.seconds == Some(0)
        || a.idle == Some(0)
        || a.ring_bytes == Some(0)
    {
        return Err(Error::usage(
            "--records, --seconds, --ring, --ring-bytes and --idle take a number above 0",
        ));
    }
    if a.follow || stream::is_stream(&a.input) {
        return super::stream::split_stream(a, out);
    }
    let stream_only = [
        ("--seconds", a.seconds.is_some()),
        ("--ring", a.ring.is_some()),
        ("--exec", a.exec.is_some()),
        ("--ring-bytes", a.ring_bytes.is_some()),
        ("--keep-free", a.keep_free.is_some()),
        ("--print-names", a.print_names),
        ("--name-time", a.name_time.is_some()),
        ("--align", a.align),
        ("--idle", a.idle.is_some()),
    ];
    if let Some((flag, _)) = stream_only.iter().find(|(_, on)| *on) {
        return Err(Error::usage(format!(
            "{flag} applies to streams: split -, a FIFO, or --follow"
        )));
    }
    split_file(a, out)
}

fn split_file(a: SplitArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = split::SplitOpts {
        input: a.input.clone(),
        out_dir: a.out_dir.clone(),
        size: a.size,
        prefix: a.prefix.clone(),
        write: a.write,
        force: a.force,
        sync: durable(a.sync, a.no_sync)?,
        dry_run: a.dry_run,
        records: a.records,
        layout: a.layout_opts(),
        window: a.window_opts(),
    };
    let r = split::run(&opts)?;
    let largest = r.pieces.iter().map(|p| p.bytes).max().unwrap_or(0);
    let verb = if a.dry_run { "would write" } else { "wrote" };
    for p in &r.pieces {
        if a.dry_run || log::log_enabled!(log::Level::Debug) {
            writeln!(
                out,
                "{}\t{} bytes\t{} records{}",
                p.path.display(),
                p.bytes,
                p.records,
                if p.oversized {
                    "\t(single oversized record)"
                } else {
                    ""
                }
            )
            .context(OUT)?;
        }
    }
    writeln!(
        out,
        "split {}: {} records, {} bytes ({}); {verb} {} pieces to {} (largest {} bytes, limit {} bytes)",
        a.input.display(),
        r.records,
        r.input_bytes,
        r.layout,
        r.pieces.len(),
        a.out_dir.display(),
        largest,
        a.size
    )
    .context(OUT)?;
    if r.removed > 0 {
        writeln!(
            out,
            "removed {} leftover piece(s) of an earlier split",
            r.removed
        )
        .context(OUT)?;
    }
    Ok(Outcome::Success)
}

pub(super) fn join(a: JoinArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = join::JoinOpts {
        pieces: a.pieces.clone(),
        output: a.output.clone(),
        write: a.write,
        force: a.force,
        sync: durable(a.sync, a.no_sync)?,
        no_manifest: a.no_manifest,
        layout: a.layout_opts(),
        window: a.window_opts(),
    };
    let r = join::run(&opts)?;
    writeln!(
        out,
        "joined {} pieces ({} records, {}) into {} ({} bytes)",
        r.pieces,
        r.records,
        r.layout,
        a.output.display(),
        r.bytes
    )
    .context(OUT)?;
    Ok(Outcome::Success)
}

pub(super) fn check(a: CheckArgs, out: &mut dyn Write) -> Result<Outcome> {
    let clean = check::run_many(&a.inputs, &a.layout_opts(), &a.window_opts(), out)?;
    Ok(if clean {
        Outcome::Success
    } else {
        Outcome::Unclean
    })
}

pub(super) fn recover(a: RecoverArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = recover::RecoverOpts {
        input: a.input.clone(),
        output: a.output.clone(),
        in_place: a.in_place,
        dry_run: a.dry_run,
        force: a.force,
        sync: !a.no_sync,
        layout: a.layout_opts(),
        window: a.window_opts(),
    };
    let r = recover::run(&opts)?;
    r.render(out).context(OUT)?;
    Ok(Outcome::Success)
}

pub(super) fn copy(a: CopyArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = copy::CopyOpts {
        src: a.src.clone(),
        dst: a.dst.clone(),
        method: a.method,
        force: a.force,
        sync: durable(a.sync, a.no_sync)?,
        window: WindowOpts {
            window: a.window,
            lock: false,
            access: Access::Mmap,
        },
        length: a.length,
        fifo_wait: std::time::Duration::from_secs(a.fifo_wait),
    };
    let r = copy::run(&opts)?;
    // at least 1 ns, as the float division had 1e-9 s
    let ns = r.elapsed.as_nanos().max(1);
    writeln!(
        out,
        "copied {} bytes with {} in {:.3} s ({:.1} MiB/s)",
        r.bytes,
        r.method,
        Frac(ns, 1_000_000_000),
        Frac(u128::from(r.bytes) * 1_000_000_000, ns << 20)
    )
    .context(OUT)?;
    Ok(Outcome::Success)
}

pub(super) fn generate(a: GenArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = generate::GenOpts {
        output: a.output.clone(),
        size: a.size,
        seed: a.seed,
        sparse: a.sparse,
        min_payload: a.min_payload,
        max_payload: a.max_payload,
        force: a.force,
        layout: a.layout_opts(),
    };
    let r = generate::run(&opts)?;
    writeln!(
        out,
        "generated {}: {} bytes, {} records, {}{}",
        a.output.display(),
        r.bytes,
        r.records,
        r.layout,
        if a.sparse { ", sparse payloads" } else { "" }
    )
    .context(OUT)?;
    Ok(Outcome::Success)
}

pub(super) fn demo(a: DemoArgs, out: &mut dyn Write) -> Result<Outcome> {
    let opts = demo::DemoOpts {
        dir: a.dir,
        size: a.size,
        piece: a.piece,
        keep: a.keep,
    };
    demo::run(&opts, out)?;
    Ok(Outcome::Success)
}
