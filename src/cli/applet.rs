//! busybox-style applet names: when mmkit is called as `devmem`, `md` or
//! `mw` (a symlink, as busybox installs its applets), it behaves as that
//! command; `mmkit --install-links DIR` creates those links.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The commands mmkit answers to under their own name.
pub const APPLETS: [&str; 3] = ["devmem", "md", "mw"];

/// When `argv0` (a file name, no directory) is an applet, the arguments
/// for mmkit: the applet's name as the command, then `rest`.
pub fn applet_args<'a>(argv0: &str, rest: &[&'a str]) -> Option<Vec<&'a str>> {
    let name = APPLETS.iter().find(|a| **a == argv0)?;
    let mut v = Vec::with_capacity(rest.len() + 1);
    v.push(*name);
    v.extend_from_slice(rest);
    Some(v)
}

/// What `--install-links` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinksReport {
    pub created: Vec<PathBuf>,
    /// Names that already existed (a file, a link, busybox's own applet):
    /// left as they were.
    pub kept: Vec<PathBuf>,
}

/// Create `DIR/devmem`, `DIR/md`, `DIR/mw` as symbolic links to `target`,
/// never replacing an existing file or link.
pub fn install_links(dir: &Path, target: &Path, out: &mut dyn Write) -> Result<LinksReport> {
    if !dir.is_dir() {
        return Err(Error::usage("--install-links: not a directory").with_path(dir));
    }
    let mut rep = LinksReport::default();
    for a in APPLETS {
        let p = dir.join(a);
        let line = if p.symlink_metadata().is_ok() {
            rep.kept.push(p.clone());
            format!("kept {} (it exists)", p.display())
        } else {
            match std::os::unix::fs::symlink(target, &p) {
                Ok(()) => {
                    rep.created.push(p.clone());
                    format!("{} -> {}", p.display(), target.display())
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    rep.kept.push(p.clone());
                    format!("kept {} (it exists)", p.display())
                }
                Err(e) => return Err(Error::io("cannot create link", e).with_path(&p)),
            }
        };
        writeln!(out, "{line}").map_err(|e| Error::io("cannot write output", e))?;
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applet_names() {
        assert_eq!(
            applet_args("devmem", &["0x10", "8"]),
            Some(vec!["devmem", "0x10", "8"])
        );
        assert_eq!(applet_args("md", &[]), Some(vec!["md"]));
        assert_eq!(applet_args("mmkit", &["md"]), None);
        assert_eq!(applet_args("devmem2", &[]), None);
    }

    #[test]
    fn links_never_replace_files() {
        let d = std::env::temp_dir().join(format!("mmkit-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("md"), "busybox's md").unwrap();
        let mut out = Vec::new();
        let rep = install_links(&d, Path::new("/usr/bin/mmkit"), &mut out).unwrap();
        assert_eq!(rep.created, [d.join("devmem"), d.join("mw")]);
        assert_eq!(rep.kept, [d.join("md")]);
        assert_eq!(
            std::fs::read_to_string(d.join("md")).unwrap(),
            "busybox's md"
        );
        assert_eq!(
            std::fs::read_link(d.join("devmem")).unwrap(),
            Path::new("/usr/bin/mmkit")
        );
        // again: everything is kept
        let rep = install_links(&d, Path::new("/x"), &mut Vec::new()).unwrap();
        assert_eq!(rep.created.len(), 0);
        assert!(install_links(&d.join("nope"), Path::new("/x"), &mut Vec::new()).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
