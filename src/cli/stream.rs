//! The stream form of `split` (`split -`, a FIFO, `--follow`): flags into
//! [`stream::StreamOpts`], the report into the writer.

use super::Outcome;
use super::records::{OUT, SplitArgs, durable};
use crate::error::{Context, Error, Result};
use crate::records::stream;
use std::io::Write;

pub(super) fn split_stream(a: SplitArgs, out: &mut dyn Write) -> Result<Outcome> {
    if a.dry_run {
        return Err(Error::usage("-n (dry run) cannot plan a stream"));
    }
    // A pipe has no offsets to map: only read() reaches it. A followed
    // file is mapped window by window unless --access read.
    if !a.follow {
        log::debug!(
            "{}: a stream: read with read() (--access {:?} applies to files)",
            a.input.display(),
            access_name(a.access)
        );
    }
    let exec = match &a.exec {
        Some(c) => stream::exec_words(c).map_err(Error::usage)?,
        None => Vec::new(),
    };
    if let Some(f) = &a.name_time {
        stream::check_name_time(f).map_err(Error::usage)?;
    }
    if a.align && a.seconds.is_none() {
        return Err(Error::usage("--align needs --seconds N"));
    }
    let opts = stream::StreamOpts {
        input: a.input.clone(),
        follow: a.follow,
        map: a.access != crate::records::input::Access::Read,
        idle: a.idle.map(std::time::Duration::from_secs),
        out_dir: a.out_dir.clone(),
        prefix: a.prefix.clone(),
        rotation: stream::Rotation {
            size: a.size,
            records: a.records,
            seconds: a.seconds,
        },
        ring: stream::Bounds {
            pieces: a.ring,
            bytes: a.ring_bytes,
            keep_free: a.keep_free,
        },
        print_names: a.print_names,
        name_time: a.name_time.clone(),
        align: a.align,
        exec,
        write: a.write,
        force: a.force,
        sync: durable(a.sync, a.no_sync)?,
        layout: a.layout_opts(),
    };
    let r = stream::run(&opts)?;
    // --print-names: stdout carries the names only.
    let mut err = std::io::stderr();
    let out: &mut dyn Write = if a.print_names { &mut err } else { out };
    if log::log_enabled!(log::Level::Debug) {
        for p in &r.pieces {
            writeln!(
                out,
                "{}\t{} bytes\t{} records",
                p.path.display(),
                p.bytes,
                p.records
            )
            .context(OUT)?;
        }
    }
    writeln!(
        out,
        "split {}: {} records, {} bytes ({}); wrote {} pieces to {} (limit {} bytes){}{}",
        a.input.display(),
        r.records,
        r.bytes,
        r.layout,
        r.pieces.len(),
        a.out_dir.display(),
        a.size,
        if r.kept < r.pieces.len() {
            format!(", kept the newest {}", r.kept)
        } else {
            String::new()
        },
        match r.signal {
            Some(s) =>
                format!("; stopped by signal {s}, the last piece ends at its last whole record"),
            None => String::new(),
        }
    )
    .context(OUT)?;
    Ok(match r.signal {
        Some(s) => Outcome::Interrupted(s),
        None => Outcome::Success,
    })
}

/// The `--access` value as typed (no `format!`, no Unicode lowercasing).
fn access_name(a: crate::records::input::Access) -> &'static str {
    use crate::records::input::Access;
    match a {
        Access::Auto => "auto",
        Access::Mmap => "mmap",
        Access::Read => "read",
    }
}
