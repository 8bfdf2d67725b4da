//! The spellings users type that argh does not parse, rewritten into ones
//! it does, before it sees them: one pure function over the argument
//! vector, [`normalize`].
//!
//! * `--name=value` becomes `--name value`, for the options that take a
//!   value (a switch written `--force=yes` is left alone, so argh refuses
//!   it instead of taking `yes` for a positional);
//! * `-vv`, `-vvv`, … become `-v -v`, `-v -v -v`, … (and `-qq` likewise);
//! * the global flags `-v`, `-q`, `--verbose`, `--quiet` (and `-vv`, …)
//!   written after the subcommand move in front of it, where argh looks for
//!   them: `mmkit split -q in.dat` is `mmkit -q split in.dat`.
//!
//! Nothing after `--` is touched, and neither is the value of an option
//! that takes one, even when it starts with `-`: `--prefix -v` keeps `-v`
//! as the prefix and `--magic -1` still reaches the number parser, which
//! refuses the sign. A token such as `-1` is not an option cluster.

/// The long and short spellings, in every command, of the options that take
/// a value. A unit test asks argh about every option of every command, so a
/// new option that takes a value must be listed here.
const TAKES_VALUE: &[&str] = &[
    "--access",
    "--buf",
    "--csv",
    "--dir",
    "--dt-root",
    "--endian",
    "--exec",
    "--fifo-wait",
    "--file",
    "--header-len",
    "--idle",
    "--install-links",
    "--interval",
    "--ints",
    "--iomem",
    "--keep-free",
    "--layout",
    "--len-endian",
    "--length",
    "--len-offset",
    "--len-width",
    "--magic",
    "--magic-offset",
    "--magic-width",
    "--map",
    "--max",
    "--max-payload",
    "--max-record",
    "--method",
    "--min",
    "--min-payload",
    "--name-time",
    "--only",
    "--out-dir",
    "--output",
    "--piece",
    "--prefix",
    "--rec-header-len",
    "--records",
    "--ring",
    "--ring-bytes",
    "--runs",
    "--scan-size",
    "--seconds",
    "--seed",
    "--size",
    "--timeout",
    "--width",
    "--window",
    "--write",
    "-m",
    "-o",
    "-s",
    "-w",
];

/// The global switches (of `mmkit` itself, not of a command).
const GLOBAL: &[&str] = &["-v", "-q", "--verbose", "--quiet"];

fn takes_value(a: &str) -> bool {
    TAKES_VALUE.contains(&a)
}

/// A global switch, expanded: `-vv` → `-v -v`; None when `a` is not one.
fn global(a: &str) -> Option<Vec<String>> {
    if GLOBAL.contains(&a) {
        return Some(vec![a.to_string()]);
    }
    let rest = a.strip_prefix('-')?;
    let c = rest.chars().next()?;
    if rest.len() >= 2 && (c == 'v' || c == 'q') && rest.chars().all(|x| x == c) {
        return Some(rest.chars().map(|x| format!("-{x}")).collect());
    }
    None
}

/// Rewrite `args` (without the program name) into spellings argh parses.
pub(super) fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 2);
    // Where the subcommand is in `out`, once seen, and the global switches
    // found after it (they go in front of it).
    let mut cmd_at: Option<usize> = None;
    let mut moved = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            out.extend(args[i - 1..].iter().cloned());
            break;
        }
        if let Some(g) = global(a) {
            if cmd_at.is_some() {
                moved.extend(g);
            } else {
                out.extend(g);
            }
            continue;
        }
        if let Some((name, value)) = a.split_once('=')
            && name.starts_with("--")
            && takes_value(name)
        {
            out.push(name.to_string());
            out.push(value.to_string());
            continue;
        }
        out.push(a.to_string());
        if takes_value(a) {
            // Its value, verbatim, whatever it looks like.
            if let Some(v) = args.get(i) {
                out.push(v.clone());
                i += 1;
            }
        } else if cmd_at.is_none() && !a.starts_with('-') {
            cmd_at = Some(out.len() - 1);
        }
    }
    if let Some(at) = cmd_at {
        out.splice(at..at, moved);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        normalize(&v).join(" ")
    }

    #[test]
    fn long_options_with_equals() {
        assert_eq!(norm("split in --size=100M"), "split in --size 100M");
        assert_eq!(norm("split in -o=x"), "split in -o=x", "short: as given");
        assert_eq!(
            norm("check --magic=0xEB90146F f"),
            "check --magic 0xEB90146F f"
        );
        assert_eq!(norm("md --file=a=b 0"), "md --file a=b 0", "first = only");
        assert_eq!(norm("split --prefix= in"), "split --prefix  in");
        // A switch with a value stays, for argh to refuse.
        assert_eq!(norm("split in --force=yes"), "split in --force=yes");
        assert_eq!(norm("split in --nonsense=1"), "split in --nonsense=1");
    }

    #[test]
    fn repeated_short_flags() {
        assert_eq!(norm("-vv split in"), "-v -v split in");
        assert_eq!(norm("-vvv check f"), "-v -v -v check f");
        assert_eq!(norm("-qq check f"), "-q -q check f");
        // Other clusters are not ours to split.
        assert_eq!(norm("-vq check f"), "-vq check f");
        assert_eq!(norm("split -fn in"), "split -fn in");
    }

    #[test]
    fn global_flags_move_in_front_of_the_subcommand() {
        assert_eq!(norm("split in -q"), "-q split in");
        assert_eq!(norm("split -v in --size 1M"), "-v split in --size 1M");
        assert_eq!(norm("check f -vv"), "-v -v check f");
        assert_eq!(
            norm("-q split --verbose in --quiet"),
            "-q --verbose --quiet split in"
        );
        assert_eq!(norm("devmem 0x10 -q"), "-q devmem 0x10");
        assert_eq!(norm("-v -V"), "-v -V", "no subcommand");
    }

    #[test]
    fn values_and_everything_after_double_dash_are_left_alone() {
        // The value of an option, even when it looks like a flag.
        assert_eq!(norm("split in --prefix -v"), "split in --prefix -v");
        assert_eq!(norm("split in --prefix -vv"), "split in --prefix -vv");
        assert_eq!(norm("gen --size=-1 f"), "gen --size -1 f");
        assert_eq!(norm("check --magic -1 f"), "check --magic -1 f");
        assert_eq!(norm("mw -w 8 0x10 -q"), "-q mw -w 8 0x10");
        // Negative numbers are not options.
        assert_eq!(norm("mw 0x10 -1"), "mw 0x10 -1");
        // After `--`, nothing.
        assert_eq!(norm("check -- -v --size=1"), "check -- -v --size=1");
        assert_eq!(norm("check -q -- -q"), "-q check -- -q");
        // A value option at the very end: argh reports the missing value.
        assert_eq!(norm("split in --size"), "split in --size");
    }

    /// The options of `cmd` as its --help lists them (`-o`, `--out-dir`, …).
    fn options_of(cmd: &str) -> Vec<String> {
        use argh::FromArgs;
        let e = super::super::TopLevel::from_args(&["mmkit"], &[cmd, "--help"])
            .expect_err("--help exits early");
        e.output
            .lines()
            .filter(|l| l.starts_with("  -"))
            .flat_map(|l| {
                let spellings = l.trim_start().split("  ").next().unwrap_or("");
                spellings
                    .split(", ")
                    .filter(|s| s.starts_with('-'))
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|s| s != "--help")
            .collect()
    }

    /// The subcommands, from `mmkit --help`.
    fn commands() -> Vec<String> {
        use argh::FromArgs;
        let e = super::super::TopLevel::from_args(&["mmkit"], &["--help"])
            .expect_err("--help exits early");
        let text = e.output;
        let cmds = text.split("Commands:").nth(1).expect("a Commands: section");
        cmds.lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    }

    #[test]
    fn the_table_knows_every_option_that_takes_a_value() {
        use argh::FromArgs;
        let cmds = commands();
        assert!(cmds.len() >= 10, "{cmds:?}");
        for cmd in &cmds {
            let opts = options_of(cmd);
            assert!(!opts.is_empty(), "{cmd}");
            for o in opts {
                // argh complains of the missing value only for an option
                // that takes one.
                let r = super::super::TopLevel::from_args(&["mmkit"], &[cmd, &o]);
                let wants_value = r
                    .err()
                    .is_some_and(|e| e.output.contains("No value provided for option"));
                assert_eq!(
                    takes_value(&o),
                    wants_value,
                    "`mmkit {cmd} {o}`: add it to or remove it from TAKES_VALUE in src/cli/argv.rs"
                );
                assert!(
                    !GLOBAL.contains(&o.as_str()),
                    "`mmkit {cmd}` defines the global flag {o}"
                );
            }
        }
    }
}
