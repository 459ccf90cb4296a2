//! The `pktloop` command: `fwd` (testpmd-class forwarding), `latency` (HDR ping-pong), `bench` (the standard
//! scenarios).
//!
//! Layers, top down:
//! - [`cli`] (clap derive: every flag) and [`config`] (`--config FILE.toml` folded in as flags, range checks
//!   that turn flags into a `FethConfig`), [`error`] (one-line errors, exit status 2 or 1);
//! - [`fwd`]: [`fwd::plan`] decides which worker owns which port and runs which job, [`fwd::worker`] holds the
//!   poll loops (io, mac, macswap, txonly, rxonly, flowgen, icmpecho), [`fwd::report`] the live line, the
//!   testpmd-style table, the JSON object and the packet accounting;
//! - [`latency`] (pinger and ponger across a feth pair, the rtrb floor), [`hgrm`] and [`svg`] (its outputs);
//! - [`bench`]: the standard scenarios in one run;
//! - [`ports`] (feth pair or null ports), [`frame`] (UDP, ARP and ICMP frames), [`capture`] (the pcap
//!   writer thread behind the engine's capture taps), [`stats`] (per-lcore counters, cycles).
//!
//! ```text
//! $ pktloop fwd --duration 2 --json
//! {"mode":"io","port":"feth","mpps":...,"drops":{"no_peer":0,...},"pool":{"mode":"global","backing":"normal"},...}
//! ```
//!
//! Every error is one line on stderr: status 2 for bad flags, values, config files and combinations, 1 for
//! a run that failed. No input on the command line or in a config file makes it panic.
#![deny(unsafe_code)]

mod bench;
mod capture;
mod cli;
mod config;
mod cores;
mod error;
mod filters;
mod frame;
mod fwd;
mod gen;
mod hgrm;
mod ifport;
mod interrupt;
mod latency;
mod ports;
mod portspec;
mod stats;
mod svg;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command};
use error::{clap_one_line, AppError};
use std::ffi::OsString;
use std::process::ExitCode;

fn parse(args: &[OsString]) -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Where a config file's settings came from, to attribute later errors to it.
struct FileSource {
    path: std::path::PathBuf,
    /// `--key` of every setting the file made that the command line did not override.
    flags: Vec<String>,
}

impl FileSource {
    /// The error, said about the file when it is about one of the file's settings.
    fn attribute(&self, e: AppError) -> AppError {
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

/// Parses the command line, folding in `--config FILE` (its flags first, so the command line overrides).
fn parse_all(args: Vec<OsString>) -> Result<(Cli, Option<FileSource>), AppError> {
    let cli = match parse(&args) {
        Ok(c) => c,
        Err(e) => return Err(clap_failure(e)),
    };
    let config = match &cli.command {
        Command::Fwd(a) => a.run.config.clone(),
        Command::Latency(a) => a.run.config.clone(),
        Command::Bench(_) => None,
    };
    let Some(path) = config else { return Ok((cli, None)) };
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
    Ok((cli, Some(FileSource { path, flags })))
}

fn clap_failure(e: clap::Error) -> AppError {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Help and version go to stdout with status 0.
            let _ = e.print();
            std::process::exit(0);
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
    use clap::CommandFactory;
    let cmd = Cli::command();
    let help = cmd
        .get_subcommands()
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_help()?
        .to_string();
    let after = help.split_once(", ")?.1;
    let range = after.split([';', '[']).next()?.trim().trim_end_matches('.');
    range.contains("..=").then(|| range.to_owned())
}

/// Counts what the workers' poll loops allocate (nothing, by design; every run reports it).
#[global_allocator]
static ALLOC: pktloop_engine::hot::CountingAlloc = pktloop_engine::hot::CountingAlloc;

fn run(cli: Cli) -> Result<(), AppError> {
    interrupt::install();
    match cli.command {
        Command::Fwd(a) => fwd::main(&a),
        Command::Latency(a) => latency::main(&a),
        Command::Bench(a) => bench::main(&a),
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp(None)
        .target(env_logger::Target::Stderr)
        .init();
    // A panic is a bug: say so on one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("pktloop: internal error{at}: {msg}");
    }));
    let result = parse_all(std::env::args_os().collect()).and_then(|(cli, file)| {
        run(cli).map_err(|e| match &file {
            Some(f) => f.attribute(e),
            None => e,
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pktloop: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
