//! `--exec CMD`: a command run on every finished piece, one at a time, in
//! order. CMD is split into words like a shell would split plain words and
//! quoted strings, but no shell runs it (write `sh -c '…'` for one); the
//! piece's path replaces `{}`, or is appended as the last argument. A
//! failure is reported and never stops the capture.

use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawnp};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::ffi::CString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Split `cmd` into words: whitespace separates, '…' and "…" quote.
pub(crate) fn words(cmd: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("--exec '{cmd}': unbalanced quote"));
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err("--exec: empty command".into());
    }
    Ok(out)
}

/// The commands to run, one at a time.
#[derive(Default)]
pub(crate) struct Exec {
    argv: Vec<String>,
    running: Option<(Pid, PathBuf)>,
    queue: VecDeque<PathBuf>,
}

impl Exec {
    pub(crate) fn new(argv: Vec<String>) -> Exec {
        Exec {
            argv,
            ..Exec::default()
        }
    }

    /// Queue `piece` (nothing when no command was given).
    pub(crate) fn submit(&mut self, piece: &Path) {
        if self.argv.is_empty() {
            return;
        }
        self.queue.push_back(piece.to_path_buf());
        self.poll();
    }

    /// The pieces waiting for or under the command.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &Path> {
        self.running
            .iter()
            .map(|(_, p)| p.as_path())
            .chain(self.queue.iter().map(PathBuf::as_path))
    }

    /// Reap a finished command (`block`: wait for it), start the next.
    fn reap(&mut self, block: bool) {
        if let Some((pid, path)) = self.running.as_ref() {
            let flags = (!block).then_some(WaitPidFlag::WNOHANG);
            match waitpid(*pid, flags) {
                Ok(WaitStatus::StillAlive) => return,
                Err(nix::errno::Errno::EINTR) => return,
                Ok(WaitStatus::Exited(_, 0)) => {}
                Ok(WaitStatus::Exited(_, c)) => {
                    log::warn!("--exec on {} failed: exit status {c}", path.display())
                }
                Ok(WaitStatus::Signaled(_, s, _)) => {
                    log::warn!("--exec on {} failed: killed by {s}", path.display())
                }
                Ok(_) => return,
                Err(e) => log::warn!("--exec on {}: {}", path.display(), e.desc()),
            }
            self.running = None;
        }
        while let Some(p) = self.queue.pop_front() {
            match self.spawn(&p) {
                Ok(pid) => {
                    self.running = Some((pid, p));
                    return;
                }
                Err(e) => log::warn!(
                    "--exec on {}: cannot run {}: {}",
                    p.display(),
                    self.argv[0],
                    e.desc()
                ),
            }
        }
    }

    /// Reap a finished command, start the next.
    pub(crate) fn poll(&mut self) {
        self.reap(false);
    }

    /// Wait for the running command (none: start the next).
    pub(crate) fn wait_one(&mut self) {
        self.reap(self.running.is_some());
    }

    /// posix_spawnp: the child starts with every signal at its default
    /// action and none blocked (mmkit ignores SIGPIPE and SIGXFSZ and
    /// catches the terminating signals).
    fn spawn(&self, piece: &Path) -> nix::Result<Pid> {
        let cstr = |b: &[u8]| CString::new(b).map_err(|_| nix::errno::Errno::EINVAL);
        let mut args = Vec::with_capacity(self.argv.len() + 1);
        let mut placed = false;
        for a in &self.argv {
            if args.is_empty() || !a.contains("{}") {
                args.push(cstr(a.as_bytes())?);
            } else {
                placed = true;
                args.push(cstr(a.replace("{}", &piece.to_string_lossy()).as_bytes())?);
            }
        }
        if !placed {
            args.push(cstr(piece.as_os_str().as_bytes())?);
        }
        let mut env = Vec::new();
        for (k, v) in std::env::vars_os() {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            env.push(cstr(&kv)?);
        }
        let mut attr = PosixSpawnAttr::init()?;
        let mut all = SigSet::all();
        all.remove(Signal::SIGKILL);
        all.remove(Signal::SIGSTOP);
        attr.set_sigdefault(&all)?;
        attr.set_sigmask(&SigSet::empty())?;
        attr.set_flags(
            PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK,
        )?;
        posix_spawnp(
            &args[0],
            &PosixSpawnFileActions::init()?,
            &attr,
            &args,
            &env,
        )
    }

    /// Wait for every queued command.
    pub(crate) fn drain(&mut self) {
        while self.running.is_some() || !self.queue.is_empty() {
            self.reap(self.running.is_some());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell_without_one() {
        assert_eq!(words("gzip -9").unwrap(), ["gzip", "-9"]);
        assert_eq!(
            words("sh -c 'gzip \"$1\"' x").unwrap(),
            ["sh", "-c", "gzip \"$1\"", "x"]
        );
        assert_eq!(words("  a   ''  b ").unwrap(), ["a", "", "b"]);
        assert!(words("a 'b").is_err());
        assert!(words("   ").is_err());
    }
}
