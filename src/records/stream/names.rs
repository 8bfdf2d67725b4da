//! `--name-time FMT`: a piece's name carries the UTC time its first record
//! arrived (`PREFIX.NNNNNN.TIME.EXT`, the number kept so that the ring and
//! a restart know the piece), and `--align`: pieces of `--seconds N` start
//! on multiples of N seconds of the clock. FMT takes `%Y %m %d %H %M %S %%`.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

/// Seconds since the Unix epoch, now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Year, month, day, hour, minute, second of `t` seconds after the epoch
/// (UTC, the proleptic Gregorian calendar).
fn civil(t: u64) -> [u64; 6] {
    let (days, s) = (t / 86_400, t % 86_400);
    // Days from 0000-03-01, in eras of 400 years (146 097 days).
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = era * 400 + yoe + u64::from(m <= 2);
    [y, m, d, s / 3600, s / 60 % 60, s % 60]
}

/// Is `fmt` made of text and the conversions this knows?
pub(crate) fn check(fmt: &str) -> Result<(), String> {
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c == '%' && !matches!(it.next(), Some('Y' | 'm' | 'd' | 'H' | 'M' | 'S' | '%')) {
            return Err(format!(
                "--name-time '{fmt}': only %Y %m %d %H %M %S and %% are known"
            ));
        }
        if c == '/' || c == '\0' {
            return Err(format!(
                "--name-time '{fmt}': a name cannot hold '/' or NUL"
            ));
        }
    }
    Ok(())
}

/// `fmt` (checked by [`check`]) at `t`.
fn expand(fmt: &str, t: u64) -> String {
    let c = civil(t);
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(ch) = it.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let _ = match it.next() {
            Some('Y') => write!(out, "{:04}", c[0]),
            Some('m') => write!(out, "{:02}", c[1]),
            Some('d') => write!(out, "{:02}", c[2]),
            Some('H') => write!(out, "{:02}", c[3]),
            Some('M') => write!(out, "{:02}", c[4]),
            Some('S') => write!(out, "{:02}", c[5]),
            _ => write!(out, "%"),
        };
    }
    out
}

/// How pieces are named and when they start.
#[derive(Clone, Debug, Default)]
pub(crate) struct Naming {
    /// `--name-time FMT` with the extension of the layout (`.pcap`).
    pub(crate) time: Option<(String, String)>,
    /// `--align` with `--seconds N`: N.
    pub(crate) align: Option<u64>,
}

impl Naming {
    /// The extension of a piece opened now (`.TIME.pcap`), if named by
    /// time: now, or with `--align` the start of the interval it opens in.
    pub(crate) fn ext_now(&self) -> Option<String> {
        let (fmt, ext) = self.time.as_ref()?;
        let t = now();
        let t = self.align.map_or(t, |a| t - t % a.max(1));
        Some(format!(".{}{ext}", expand(fmt, t)))
    }

    /// When a piece opened now counts as opened: the last multiple of N
    /// seconds of the clock with `--align`, else now.
    pub(crate) fn opened(&self) -> Instant {
        let n = Instant::now();
        match self.align {
            Some(a) => n.checked_sub(Duration::from_secs(now() % a)).unwrap_or(n),
            None => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_agrees_with_date() {
        let ts = [
            0u64,
            59,
            86_399,
            951_782_400, // 2000-02-29
            951_868_800, // 2000-03-01
            1_709_164_799,
            1_709_251_199, // 2024-02-29 23:59:59
            2_147_483_647,
            4_107_542_400, // 2100-03-01 (2100 is no leap year)
            4_102_444_799,
            253_402_300_799, // 9999-12-31 23:59:59
            1_796_770_000,
        ];
        let have_date = std::process::Command::new("date")
            .args(["-u", "-d", "@0"])
            .output()
            .is_ok_and(|o| o.status.success());
        for t in ts {
            let ours = expand("%Y-%m-%d %H:%M:%S %%", t);
            if have_date {
                let o = std::process::Command::new("date")
                    .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%d %H:%M:%S %%"])
                    .output()
                    .unwrap();
                assert_eq!(ours, String::from_utf8_lossy(&o.stdout).trim_end(), "@{t}");
            }
        }
        assert_eq!(expand("%Y%m%d-%H%M%S", 951_782_400), "20000229-000000");
        assert_eq!(expand("%Y%m%d", 4_107_542_400), "21000301");
        if !have_date {
            println!("date -u -d @T is absent: checked the fixed dates only");
        }
    }

    #[test]
    fn unknown_conversions_are_refused() {
        assert!(check("%Y%m%dT%H%M%S%%").is_ok());
        assert!(check("%s").is_err());
        assert!(check("%").is_err());
        assert!(check("a/%H").is_err());
    }
}
