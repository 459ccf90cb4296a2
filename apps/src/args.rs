//! The command line and `--config FILE` parsed into a [`Cli`]: clap's errors said in one line like every
//! other (the flag, the value the user gave, the valid range), help and version kept apart from errors.

use crate::cli::{Cli, Command};
use crate::config;
use crate::error::{clap_one_line, AppError};
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;

fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Where a config file's settings came from, to attribute later errors to it.
#[derive(Debug)]
pub struct FileSource {
    path: std::path::PathBuf,
    /// `--key` of every setting the file made that the command line did not override.
    flags: Vec<String>,
}

impl FileSource {
    /// The error, said about the file when it is about one of the file's settings.
    pub fn attribute(&self, e: AppError) -> AppError {
        let from_file = match &e {
            AppError::Usage(m) => self.flags.iter().any(|f| m.starts_with(&format!("invalid {f} "))),
            AppError::Runtime(_) => false,
        };
        if from_file {
            e.in_file(&self.path)
        } else {
            e
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// A run, with the config file its settings came from, if any.
    Run(Box<Cli>, Option<FileSource>),
    /// Help or version text, for stdout with status 0.
    Shown(clap::Error),
}

/// Parses the command line, folding in `--config FILE` (its flags first, so the command line overrides).
///
/// # Errors
/// A usage error (status 2) in one line: a bad flag or value, or an unreadable or malformed config file.
pub fn parse_all(args: Vec<OsString>) -> Result<Parsed, AppError> {
    let cli = match parse(&args) {
        Ok(c) => c,
        Err(e) if is_shown(&e) => return Ok(Parsed::Shown(e)),
        Err(e) => return Err(clap_failure(e, &args)),
    };
    let config = match &cli.command {
        Command::Fwd(a) => a.run.config.clone(),
        Command::Latency(a) => a.run.config.clone(),
        Command::Bench(_) => None,
    };
    let Some(path) = config else { return Ok(Parsed::Run(Box::new(cli), None)) };
    let file = config::file_flags(&path)?;
    let flag_of = |a: &OsString| a.to_string_lossy().split('=').next().unwrap_or_default().to_owned();
    let given: Vec<String> = args[2..].iter().map(flag_of).collect();
    let flags = file.iter().map(flag_of).filter(|f| !given.contains(f)).collect();
    // The subcommand is args[1]: pktloop has no options before it (other than --help and --version).
    let mut file_only = args[..2].to_vec();
    file_only.extend(file.iter().cloned());
    parse(&file_only).map_err(|e| clap_failure(e, &args).in_file(&path))?;
    // A flag on the command line replaces the file's, a list (`--filter`) included, rather than adding to it.
    let mut merged = args[..2].to_vec();
    merged.extend(file.iter().filter(|a| !given.contains(&flag_of(a))).cloned());
    merged.extend(args[2..].iter().cloned());
    let mut cli = parse(&merged).map_err(|e| clap_failure(e, &args))?;
    match &mut cli.command {
        Command::Fwd(a) => a.run.from_file.clone_from(&flags),
        Command::Latency(a) => a.run.from_file.clone_from(&flags),
        Command::Bench(_) => {}
    }
    Ok(Parsed::Run(Box::new(cli), Some(FileSource { path, flags })))
}

/// Whether clap's "error" is the help or version text the user asked for.
fn is_shown(e: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
}

/// clap's error for the command line `args`, said in one line.
fn clap_failure(e: clap::Error, args: &[OsString]) -> AppError {
    use clap::error::ErrorKind;
    match e.kind() {
        // Only the command line itself can ask for them; a config file's keys are settings.
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            AppError::usage("help and version are not settings: valid is --help or --version on the command line")
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            AppError::usage("a subcommand is required: valid is fwd, latency or bench (pktloop --help tells more)")
        }
        ErrorKind::ValueValidation if not_a_number(&e) => {
            number_refused(&e, &args.get(1).map(|s| s.to_string_lossy()).unwrap_or_default())
        }
        // Our own parsers say the whole thing (`invalid --port bogus: ...`): clap's wrapper would repeat it.
        ErrorKind::ValueValidation => match own_message(&e) {
            Some(message) => AppError::usage(message),
            None => AppError::usage(clap_one_line(&e.render().to_string())),
        },
        ErrorKind::InvalidSubcommand => AppError::usage(format!(
            "{}: valid is fwd, latency or bench (pktloop --help tells more)",
            clap_one_line(&e.render().to_string())
        )),
        _ => AppError::usage(clap_one_line(&e.render().to_string())),
    }
}

/// The message of one of pktloop's own value parsers, when it says the flag and value itself.
fn own_message(e: &clap::Error) -> Option<String> {
    use std::error::Error;
    let inner = e.source()?.to_string();
    inner.starts_with("invalid --").then_some(inner)
}

/// Whether clap refused a value of a numeric flag: not a number (empty, letters, a fraction for an
/// integer) or one that does not fit the flag's type. The texts are those of std's `ParseIntError` and
/// `ParseFloatError`.
fn not_a_number(e: &clap::Error) -> bool {
    let text = e.to_string();
    [
        "invalid digit",
        "cannot parse integer from empty string",
        "invalid float literal",
        "cannot parse float from empty string",
        "number too large",
        "number too small",
    ]
    .iter()
    .any(|why| text.contains(why))
}

/// A value clap could not take as its flag's number, said as every other bad value is: the flag, the value
/// the user gave, and the valid range its help states.
fn number_refused(e: &clap::Error, subcommand: &str) -> AppError {
    use clap::error::{ContextKind, ContextValue};
    let get = |k| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let arg = get(ContextKind::InvalidArg);
    let flag = arg.split_whitespace().next().unwrap_or_default().to_owned();
    let value = match get(ContextKind::InvalidValue) {
        v if v.is_empty() => "\"\"".to_owned(),
        v => v,
    };
    let long = flag.trim_start_matches('-');
    match listed_values(long).or_else(|| stated_range(subcommand, long)) {
        Some(range) => AppError::usage(format!("invalid {flag} {value}: valid is {range}")),
        None => AppError::usage(clap_one_line(&e.render().to_string())),
    }
}

/// The valid values of the numeric flags whose help states no `..=` range (or not the whole story), as
/// their checks say them.
fn listed_values(long: &str) -> Option<String> {
    let text = match long {
        "tx-headroom" => config::TX_HEADROOM_VALID,
        "user-access" => config::USER_ACCESS_VALID,
        "tx-exp-policy" => config::TX_EXP_POLICY_VALID,
        "input-thread" => return Some(crate::fwd::plan::input_cores(&pktloop_engine::lcore::allowed_cores())),
        _ => return None,
    };
    Some(text.to_owned())
}

/// The range the help of `subcommand`'s `--long` states: the clause holding `..=`, from after the comma or
/// colon that opens it to the next comma, semicolon or bracket (`feth pairs, 1..=64: each ...` gives
/// `1..=64`; `Times to play the capture, 0 (until the run ends)..=1000000 [default: 1]` gives `0 (until
/// the run ends)..=1000000`; `..., 72..=max-mtu [default: 1500]` gives `72..=max-mtu`).
fn stated_range(subcommand: &str, long: &str) -> Option<String> {
    let cmd = Cli::command();
    let sub = cmd.get_subcommands().find(|c| c.get_name() == subcommand)?;
    let help = sub.get_arguments().find(|a| a.get_long() == Some(long))?.get_help()?.to_string();
    let at = help.find("..=")?;
    let start = help[..at].rfind([',', ':']).map_or(0, |i| i + 1);
    let bound = help[at..].find([',', ';', '[']).map_or(help.len(), |n| at + n);
    // A bound that ends its clause with a colon (`1..=64: each pair ...`) ends there.
    let range = help[start..bound].split(": ").next().unwrap_or_default();
    Some(range.trim().trim_end_matches('.').to_owned())
}

/// The argument `--long` of whichever subcommand has it first.
pub fn flag(long: &str) -> Option<clap::Arg> {
    let cmd = Cli::command();
    let arg = cmd.get_subcommands().flat_map(|c| c.get_arguments()).find(|a| a.get_long() == Some(long));
    arg.cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(args: &[&str]) -> String {
        let args = std::iter::once("pktloop").chain(args.iter().copied()).map(OsString::from).collect();
        match parse_all(args) {
            Err(AppError::Usage(m)) => m,
            Err(e) => panic!("{e}: not a usage error"),
            Ok(_) => String::from("(accepted)"),
        }
    }

    #[test]
    fn every_numeric_flag_names_its_valid_values_for_any_non_number() {
        // Before: letters, an empty value or a fraction gave clap's "invalid digit found in string" with no
        // range, and a number too large for the type gave no range (or a piece of the help) for the flags
        // whose help states none as `a..=b`.
        let cmd = Cli::command();
        let mut checked = 0;
        for sub in cmd.get_subcommands() {
            for arg in sub.get_arguments().filter(|a| a.get_action().takes_values()) {
                let Some(long) = arg.get_long() else { continue };
                let flag = format!("--{long}");
                let probe = error_of(&[sub.get_name(), &flag, "abc"]);
                if !probe.starts_with(&format!("invalid {flag} abc: valid is ")) {
                    // Not a number to clap: a text its own check reads later (--cores, --pkt-len, fwd's
                    // --rate), or a choice clap lists.
                    continue;
                }
                // A float flag takes any size here; its range is checked with the run's settings.
                let float = error_of(&[sub.get_name(), &format!("{flag}=1.5")]) == "(accepted)";
                for bad in ["", "1.5x", "99999999999999999999999", "-99999999999999999999999"] {
                    let m = error_of(&[sub.get_name(), &format!("{flag}={bad}")]);
                    if float && bad.len() > 20 && m == "(accepted)" {
                        continue;
                    }
                    let shown = if bad.is_empty() { "\"\"" } else { bad };
                    let head = format!("invalid {flag} {shown}: valid is ");
                    assert!(m.starts_with(&head), "{} {flag}={bad}: {m}", sub.get_name());
                    let valid = &m[head.len()..];
                    assert!(!valid.is_empty() && !valid.contains('\n'), "{} {flag}={bad}: {m}", sub.get_name());
                    // This subcommand's own range (bench's --duration is not fwd's), or a listed set.
                    let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                    assert!(
                        help.contains(valid) || listed_values(long).is_some(),
                        "{} {flag}: {m} / {help}",
                        sub.get_name()
                    );
                    assert!(
                        valid.bytes().filter(|&b| b == b'(').count() == valid.bytes().filter(|&b| b == b')').count(),
                        "{m}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked >= 30, "{checked} numeric flags checked");
    }

    #[test]
    fn a_parser_that_says_the_flag_itself_is_not_wrapped_and_a_bad_subcommand_lists_the_good_ones() {
        // Before: `invalid value 'bogus' for '--port <SPEC>': invalid --port bogus: ...`, and `pktloop foo`
        // named no subcommand.
        let m = error_of(&["fwd", "--port", "bogus"]);
        assert!(m.starts_with("invalid --port bogus: ") && !m.contains("invalid value"), "{m}");
        let m = error_of(&["foo"]);
        assert!(m.contains("'foo'") && m.contains("valid is fwd, latency or bench"), "{m}");
    }
}
