//! `--exec CMD`: a command run on every finished piece, one at a time, in
//! order. CMD is split into words like a shell would split plain words and
//! quoted strings, but no shell runs it (write `sh -c '…'` for one); the
//! piece's path replaces `{}`, or is appended as the last argument. A
//! failure is reported and never stops the capture.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

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
    running: Option<(Child, PathBuf)>,
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

    /// Is `piece` waiting for or under the command?
    pub(crate) fn busy_with(&self, piece: &Path) -> bool {
        self.running.as_ref().is_some_and(|(_, p)| p == piece)
            || self.queue.iter().any(|p| p == piece)
    }

    /// Reap a finished command, start the next.
    pub(crate) fn poll(&mut self) {
        if let Some((child, path)) = self.running.as_mut() {
            match child.try_wait() {
                Ok(None) => return,
                Ok(Some(st)) if st.success() => {}
                Ok(Some(st)) => log::warn!("--exec on {} failed: {st}", path.display()),
                Err(e) => log::warn!("--exec on {}: {e}", path.display()),
            }
            self.running = None;
        }
        while let Some(p) = self.queue.pop_front() {
            match self.spawn(&p) {
                Ok(c) => {
                    self.running = Some((c, p));
                    return;
                }
                Err(e) => log::warn!(
                    "--exec on {}: cannot run {}: {e}",
                    p.display(),
                    self.argv[0]
                ),
            }
        }
    }

    fn spawn(&self, piece: &Path) -> std::io::Result<Child> {
        let mut args: Vec<std::ffi::OsString> = Vec::with_capacity(self.argv.len() + 1);
        let mut placed = false;
        for a in &self.argv[1..] {
            if a.contains("{}") {
                placed = true;
                args.push(a.replace("{}", &piece.to_string_lossy()).into());
            } else {
                args.push(a.into());
            }
        }
        if !placed {
            args.push(piece.as_os_str().to_os_string());
        }
        Command::new(&self.argv[0]).args(args).spawn()
    }

    /// Wait for every queued command.
    pub(crate) fn drain(&mut self) {
        while self.running.is_some() || !self.queue.is_empty() {
            if let Some((child, path)) = self.running.as_mut() {
                match child.wait() {
                    Ok(st) if !st.success() => {
                        log::warn!("--exec on {} failed: {st}", path.display())
                    }
                    Err(e) => log::warn!("--exec on {}: {e}", path.display()),
                    _ => {}
                }
                self.running = None;
            }
            self.poll();
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
