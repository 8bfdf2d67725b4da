//! Where register maps come from: `--map FILE`, else `$MMKIT_REGMAP`
//! (files separated by ':'), else every `/etc/mmkit/*.regs` whose `boards`
//! line names this board (maps without one are always used). The board is
//! known by its device-tree `compatible` strings and OpenWrt's
//! `/tmp/sysinfo/board_name`.
//!
//! Test hooks: `MMKIT_REGMAP_DIR` replaces `/etc/mmkit`, `MMKIT_DT_ROOT`
//! replaces `/proc/device-tree`, `MMKIT_SYSINFO` replaces `/tmp/sysinfo`.

use super::RegisterMap;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The installed maps.
pub const MAP_DIR: &str = "/etc/mmkit";
/// The running board's device tree.
pub const DT_ROOT: &str = "/proc/device-tree";
/// OpenWrt's board identity (board_name, model).
pub const SYSINFO: &str = "/tmp/sysinfo";

fn env_path(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// The device-tree root (`MMKIT_DT_ROOT` or /proc/device-tree).
pub fn dt_root() -> PathBuf {
    env_path("MMKIT_DT_ROOT", DT_ROOT)
}

/// Names this board answers to: the root node's `compatible` strings, then
/// OpenWrt's board_name.
pub fn board_ids(dt_root: &Path, sysinfo: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    if let Ok(b) = std::fs::read(dt_root.join("compatible")) {
        for s in b.split(|c| *c == 0) {
            if let Ok(s) = std::str::from_utf8(s)
                && !s.is_empty()
            {
                ids.push(s.to_string());
            }
        }
    }
    if let Ok(s) = std::fs::read_to_string(sysinfo.join("board_name")) {
        let s = s.trim();
        if !s.is_empty() && !ids.iter().any(|i| i == s) {
            ids.push(s.to_string());
        }
    }
    ids
}

/// Does a map with `boards` apply to a board with `ids`?
pub fn applies(boards: &[String], ids: &[String]) -> bool {
    boards.is_empty()
        || boards
            .iter()
            .any(|b| ids.iter().any(|i| i.eq_ignore_ascii_case(b)))
}

/// Load the register maps for this command (see the module doc).
pub fn load(map: Option<&Path>) -> Result<RegisterMap> {
    if let Some(p) = map {
        return RegisterMap::load(p);
    }
    if let Some(v) = std::env::var_os("MMKIT_REGMAP").filter(|v| !v.is_empty()) {
        let mut all = RegisterMap::default();
        for p in std::env::split_paths(&v) {
            if p.as_os_str().is_empty() {
                continue;
            }
            all.merge(RegisterMap::load(&p)?)?;
        }
        return Ok(all);
    }
    let dir = env_path("MMKIT_REGMAP_DIR", MAP_DIR);
    let ids = board_ids(&dt_root(), &env_path("MMKIT_SYSINFO", SYSINFO));
    load_dir(&dir, &ids)
}

/// Every `*.regs` in `dir` that applies to a board with `ids`.
pub fn load_dir(dir: &Path, ids: &[String]) -> Result<RegisterMap> {
    let no_map = || {
        Error::usage(format!(
            "no register map: none given with --map, MMKIT_REGMAP is not set, and {} has no *.regs file",
            dir.display()
        ))
        .hint("write one (docs/registers.md) and pass it with --map FILE")
    };
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_map()),
        Err(e) => return Err(Error::io("cannot list register maps", e).with_path(dir)),
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "regs"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(no_map());
    }
    let mut all = RegisterMap::default();
    let mut skipped = Vec::new();
    let mut used = 0;
    for p in &files {
        let m = RegisterMap::load(p)?;
        if applies(&m.boards, ids) {
            log::debug!("regmap: using {}", p.display());
            used += 1;
            all.merge(m)?;
        } else {
            log::debug!("regmap: {} is for {}", p.display(), m.boards.join(" "));
            skipped.push(format!("{} ({})", p.display(), m.boards.join(" ")));
        }
    }
    if used == 0 {
        return Err(Error::usage(format!(
            "no register map in {} is for this board ({})",
            dir.display(),
            if ids.is_empty() {
                "no device-tree compatible, no /tmp/sysinfo/board_name".to_string()
            } else {
                ids.join(" ")
            }
        ))
        .hint(format!(
            "maps found: {}; choose one with --map FILE",
            skipped.join(", ")
        )));
    }
    Ok(all)
}
