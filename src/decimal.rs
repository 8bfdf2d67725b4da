//! Exact fractions printed as decimals, without floating point: timings,
//! rates and means are integers (picoseconds, bytes, counts) divided only when
//! printed. The soft-float MIPS build carried ~35 KB of float parsing,
//! formatting and arithmetic routines for a handful of `{:.2}`.

use std::cmp::Ordering;
use std::fmt;

/// `num / den`. Printed with the formatter's precision (default 0), rounded
/// half to even as Rust prints floats, right-aligned in the width unless `<`
/// is asked for; `x/0` prints "inf" ("NaN" for 0/0) as a float division did.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Frac(pub(crate) u128, pub(crate) u128);

impl Frac {
    /// `num / den` of two 64-bit counts.
    pub(crate) fn of(num: u64, den: u64) -> Frac {
        Frac(num.into(), den.into())
    }

    /// A plain decimal such as "0.52" (as /proc/loadavg prints it): digits,
    /// optionally a point and up to 18 more digits.
    pub(crate) fn parse(s: &str) -> Option<Frac> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || frac.len() > 18 || !digits(int) || !digits(frac) {
            return None;
        }
        let mut n: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            n = n.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        }
        (n <= u128::from(u64::MAX)).then(|| Frac(n, 10u128.pow(frac.len() as u32)))
    }
}

/// Compares by cross multiplication: exact while both parts are below 2^64
/// (every comparison here is of two 64-bit quantities).
impl Ord for Frac {
    fn cmp(&self, o: &Frac) -> Ordering {
        let a = self.0.saturating_mul(o.1);
        let b = o.0.saturating_mul(self.1);
        a.cmp(&b)
    }
}

impl PartialOrd for Frac {
    fn partial_cmp(&self, o: &Frac) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for Frac {
    fn eq(&self, o: &Frac) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Frac {}

impl fmt::Display for Frac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.render(f.precision().unwrap_or(0).min(18));
        let pad = f.width().unwrap_or(0).saturating_sub(s.len());
        let left = matches!(f.align(), Some(fmt::Alignment::Left));
        if !left {
            write!(f, "{:pad$}", "")?;
        }
        f.write_str(&s)?;
        if left {
            write!(f, "{:pad$}", "")?;
        }
        Ok(())
    }
}

impl Frac {
    fn render(&self, places: usize) -> String {
        let Frac(n, d) = *self;
        if d == 0 {
            return if n == 0 { "NaN" } else { "inf" }.into();
        }
        let scale = 10u128.pow(places as u32);
        // n < 2^100 here (bytes × 10^12 at most), so n × 10^18 cannot overflow
        // for the precisions used; saturate rather than wrap if it ever did.
        let scaled = n.saturating_mul(scale);
        let (mut q, r) = (scaled / d, scaled % d);
        // half to even: up when past the half, or on it with an odd last digit
        if r > d - r || (r == d - r && q % 2 == 1) {
            q += 1;
        }
        if places == 0 {
            format!("{q}")
        } else {
            format!("{}.{:0places$}", q / scale, q % scale)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_floats() {
        for (n, d, p) in [
            (1u64, 4u64, 1usize),
            (3, 4, 1),
            (5, 2, 0),
            (7, 2, 0),
            (9, 8, 2),
            (2, 3, 3),
            (1234, 100, 1),
            (1, 1000, 2),
            (123_456_789, 1000, 9),
            (5, 1, 1),
        ] {
            let want = format!("{:.p$}", n as f64 / d as f64);
            assert_eq!(format!("{:.p$}", Frac::of(n, d)), want, "{n}/{d} .{p}");
        }
        assert_eq!(format!("{:>8.2}|", Frac::of(3, 2)), "    1.50|");
        assert_eq!(format!("{:<6.1}|", Frac::of(3, 2)), "1.5   |");
        assert_eq!(format!("{:.2}", Frac::of(1, 0)), "inf");
        assert_eq!(format!("{:.2}", Frac::of(0, 0)), "NaN");
    }

    #[test]
    fn parses_plain_decimals() {
        assert_eq!(Frac::parse("0.52"), Some(Frac::of(52, 100)));
        assert_eq!(format!("{:.2}", Frac::parse("12.5").unwrap()), "12.50");
        assert_eq!(Frac::parse("3"), Some(Frac::of(3, 1)));
        for bad in [
            "",
            ".5",
            "1.2.3",
            "-1",
            "1e3",
            "0x1",
            "99999999999999999999",
        ] {
            assert_eq!(Frac::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn compares_exactly() {
        assert!(Frac::of(11, 10) >= Frac::of(110, 100));
        assert!(Frac::of(109, 100) < Frac::of(11, 10));
        assert!(Frac::of(1, 0) > Frac::of(u64::MAX, 1));
    }
}
