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
        Err(e) => return Err(clap_failure(e)),
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
    parse(&file_only).map_err(|e| clap_failure(e).in_file(&path))?;
    let mut merged = file_only;
    merged.extend(args[2..].iter().cloned());
    let cli = parse(&merged).map_err(clap_failure)?;
    Ok(Parsed::Run(Box::new(cli), Some(FileSource { path, flags })))
}

/// Whether clap's "error" is the help or version text the user asked for.
fn is_shown(e: &clap::Error) -> bool {
    use clap::error::ErrorKind;
    matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
}

fn clap_failure(e: clap::Error) -> AppError {
    use clap::error::ErrorKind;
    match e.kind() {
        // Only the command line itself can ask for them; a config file's keys are settings.
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            AppError::usage("help and version are not settings: valid is --help or --version on the command line")
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            AppError::usage("a subcommand is required: valid is fwd, latency or bench (pktloop --help tells more)")
        }
        ErrorKind::ValueValidation if out_of_type(&e) => number_too_large(&e),
        _ => AppError::usage(clap_one_line(&e.render().to_string())),
    }
}

/// Whether clap refused a number because it does not fit the flag's integer type.
fn out_of_type(e: &clap::Error) -> bool {
    let text = e.to_string();
    text.contains("number too large") || text.contains("number too small")
}

/// A number too large for its flag's type, said as every other bad value is: the flag, the value the user
/// gave, and the valid range its help states.
fn number_too_large(e: &clap::Error) -> AppError {
    use clap::error::{ContextKind, ContextValue};
    let get = |k| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let arg = get(ContextKind::InvalidArg);
    let flag = arg.split_whitespace().next().unwrap_or_default().to_owned();
    let value = get(ContextKind::InvalidValue);
    match stated_range(flag.trim_start_matches('-')) {
        Some(range) => AppError::usage(format!("invalid {flag} {value}: valid is {range}")),
        None => AppError::usage(clap_one_line(&e.render().to_string())),
    }
}

/// The range a flag's help states (`Packets per burst, 1..=512` gives `1..=512`).
fn stated_range(long: &str) -> Option<String> {
    let help = flag(long)?.get_help()?.to_string();
    let after = help.split_once(", ")?.1;
    let range = after.split([';', '[']).next()?.trim().trim_end_matches('.');
    range.contains("..=").then(|| range.to_owned())
}

/// The argument `--long` of whichever subcommand has it first.
pub fn flag(long: &str) -> Option<clap::Arg> {
    let cmd = Cli::command();
    let arg = cmd.get_subcommands().flat_map(|c| c.get_arguments()).find(|a| a.get_long() == Some(long));
    arg.cloned()
}
