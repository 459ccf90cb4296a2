//! What the command line's and config files' property tests and fuzz targets run: any argument list, and any
//! config file's text, is parsed and its settings checked (everything a run checks before it creates
//! anything) without a panic; whatever is refused is refused as a usage error (status 2) in one line, and an
//! error that names a flag (`invalid --burst 0: valid is 1..=512`) names one the command has. Built for tests
//! and under `--cfg fuzzing` (see `fuzz/`).
//!
//! Paths are left out: an argument with a `/` in it is not tried, since a fuzzer that finds `/dev/zero`
//! would spend each run reading it up to the limit (1 MiB for a config file, a quarter of the available memory for
//! a trace to replay); a plain name is tried (and found or not in the working directory).

use crate::args::{parse_all, Parsed};
use crate::cli::{Cli, Command};
use crate::error::AppError;
use std::ffi::OsString;

/// The subcommands, for inputs that pick one.
pub const SUBCOMMANDS: [&str; 3] = ["fwd", "latency", "bench"];

/// Parses `args` (the arguments after the program's name) and checks the settings they make.
pub fn settle_any_command_line(args: Vec<OsString>) {
    if args.iter().any(|a| a.as_encoded_bytes().contains(&b'/')) {
        return;
    }
    let mut argv = vec![OsString::from("pktloop")];
    argv.extend(args);
    match parse_all(argv) {
        Err(e) => assert_usage_in_one_line(&e),
        Ok(Parsed::Shown(text)) => assert!(!text.to_string().trim().is_empty(), "help or version says something"),
        Ok(Parsed::Run(cli, _)) => {
            if let Err(e) = check_settings(*cli) {
                assert_usage_in_one_line(&e);
            }
        }
    }
}

/// Reads `text` as a config file and checks its settings as `subcommand`'s.
pub fn settle_any_config(subcommand: &str, text: &str) {
    match crate::config::text_flags(text, "fuzz.toml") {
        Err(e) => assert_usage_in_one_line(&e),
        Ok(flags) => {
            let mut args = vec![OsString::from(subcommand)];
            args.extend(flags);
            settle_any_command_line(args);
        }
    }
}

/// Every check a run makes before it creates ports, pools or files.
fn check_settings(cli: Cli) -> Result<(), AppError> {
    match cli.command {
        Command::Fwd(a) => crate::fwd::plan::resolve(&a).map(drop),
        Command::Latency(a) => crate::latency::resolve(&a).map(drop),
        Command::Bench(a) => crate::config::duration("duration", a.duration, 60.0).map(drop),
    }
}

fn assert_usage_in_one_line(e: &AppError) {
    let AppError::Usage(msg) = e else { panic!("a bad setting is a usage error (status 2), not a failed run: {e}") };
    assert!(!msg.trim().is_empty(), "an error says something");
    assert!(!msg.contains('\n'), "an error is one line: {msg:?}");
    if let Some(rest) = msg.strip_prefix("invalid --") {
        let flag = rest.split([' ', ':']).next().unwrap_or_default();
        assert!(crate::args::flag(flag).is_some(), "the error names a flag the command has: {msg:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Values that sit at and beyond the knobs' bounds, and words some knobs take.
    const VALUES: &[&str] = &[
        "",
        "0",
        "1",
        "-1",
        "2",
        "31",
        "60",
        "64",
        "1500",
        "1518",
        "2017",
        "9000",
        "65536",
        "1048576",
        "4294967296",
        "99999999999999999999",
        "1e30",
        "-1e30",
        "0.5",
        "NaN",
        "on",
        "off",
        "true",
        "global",
        "private",
        "split",
        "io",
        "txonly",
        "rxonly",
        "macswap",
        "icmpecho",
        "flowgen",
        "paired",
        "feth",
        "null",
        "tap",
        "0,1",
        "1,1",
        "1-0",
        "bk,be,vi,vo",
        "198.18.0.1/24",
        "64,1518",
        "imix",
        "x",
    ];

    /// The long flags of `sub`, so generated command lines get past the parser to the checks behind it.
    fn flags(sub: &str) -> Vec<String> {
        use clap::CommandFactory;
        let cmd = Cli::command();
        let sub = cmd.find_subcommand(sub).expect("a subcommand");
        let long = sub.get_arguments().filter_map(|a| a.get_long().map(str::to_owned));
        long.filter(|f| !matches!(f.as_str(), "help" | "version" | "config")).collect()
    }

    /// A subcommand (one of the first `n`) and up to five of its settings as (flag, value).
    fn settings(n: usize) -> impl Strategy<Value = (&'static str, Vec<(String, String)>)> {
        proptest::sample::select(&SUBCOMMANDS[..n]).prop_flat_map(|sub| {
            let value = proptest::sample::select(VALUES).prop_map(str::to_owned);
            (Just(sub), proptest::collection::vec((proptest::sample::select(flags(sub)), value), 0..6))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn any_command_line_of_real_flags_is_run_or_refused_in_one_line((sub, settings) in settings(3)) {
            let mut args = vec![OsString::from(sub)];
            args.extend(settings.iter().map(|(f, v)| OsString::from(format!("--{f}={v}"))));
            settle_any_command_line(args);
        }

        #[test]
        fn any_words_as_a_command_line_are_run_or_refused_in_one_line(words in proptest::collection::vec("(?s).{0,12}", 0..6)) {
            settle_any_command_line(words.into_iter().map(OsString::from).collect());
        }

        #[test]
        fn any_config_file_of_real_keys_is_run_or_refused_in_one_line(
            (sub, settings) in settings(2),
            quoted in proptest::collection::vec(any::<bool>(), 6),
        ) {
            let text: String = settings
                .iter()
                .zip(&quoted)
                .map(|((k, v), &q)| if q { format!("{k} = {v:?}\n") } else { format!("{k} = {v}\n") })
                .collect();
            settle_any_config(sub, &text);
        }

        #[test]
        fn any_text_as_a_config_file_is_refused_in_one_line(text in "(?s).{0,200}") {
            settle_any_config("fwd", &text);
        }
    }

    #[test]
    fn a_value_holding_a_newline_is_refused_in_one_line() {
        // The command_line fuzz target's first finding: the error quoted the value, newline and all.
        settle_any_command_line(["fwd", "--cores", "0,\u{7f}J--allow-\n\u{7f}"].map(OsString::from).to_vec());
    }

    #[test]
    fn the_checks_refuse_what_the_findings_named_in_one_line() {
        for (sub, args) in [
            ("fwd", &["--burst", "99999999999999999999"][..]),
            ("fwd", &["--cores", "1,1"]),
            ("fwd", &["--tx-first", "65"]),
            ("latency", &["--pkt-len", "1e30"]),
        ] {
            let mut argv = vec![OsString::from("pktloop"), OsString::from(sub)];
            argv.extend(args.iter().map(OsString::from));
            let refused = match parse_all(argv) {
                Err(e) => Some(e),
                Ok(Parsed::Run(cli, _)) => check_settings(*cli).err(),
                Ok(Parsed::Shown(_)) => None,
            };
            let e = refused.unwrap_or_else(|| panic!("{sub} {args:?} is refused"));
            assert_usage_in_one_line(&e);
            assert!(e.to_string().starts_with(&format!("invalid {}", args[0])), "{e}");
        }
    }
}
