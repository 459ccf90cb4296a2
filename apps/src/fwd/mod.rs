//! `pktloop fwd`: testpmd-class forwarding. [`plan`] checks the flags and decides who owns which port and
//! runs which [`job`], [`worker`] holds the poll loops (one pass of each job is in [`modes`]), [`session`]
//! is a run's life (setup, the live loop, teardown and the accounting), [`report`] prints the live line,
//! the final table and the JSON object, [`settings`] echoes what shaped the run, and [`interactive`] is the
//! `-i` prompt over sessions.

pub mod interactive;
pub mod job;
pub mod modes;
pub mod plan;
pub mod report;
pub mod session;
pub mod settings;
pub mod worker;

use crate::cli::FwdArgs;
use crate::error::AppError;
use plan::Plan;
use report::{Live, Report};

/// Runs `pktloop fwd` with parsed flags.
///
/// # Errors
/// Bad settings (usage) or a failed run.
pub fn main(args: &FwdArgs) -> Result<(), AppError> {
    let plan = plan::resolve(args)?;
    if args.interactive.unwrap_or(false) {
        return interactive::main(plan);
    }
    let live = Live::new(&plan);
    let r = run(&plan, Some(&live))?;
    if plan.json {
        println!("{}", report::json(&plan, &r));
    } else {
        report::print_table(&plan, &r);
    }
    if r.leaked != 0 {
        return Err(AppError::runtime(format!("{} buffers did not return to their pools", r.leaked)));
    }
    match r.capture_error {
        Some(e) => Err(AppError::runtime(e)),
        None => Ok(()),
    }
}

/// Runs a plan; `live` prints a line per second.
///
/// # Errors
/// Ports or workers could not be set up, a worker panicked, or the capture file failed.
pub fn run(plan: &Plan, live: Option<&Live>) -> Result<Report, AppError> {
    let started = session::start(plan)?;
    let watched = session::watch(plan, &started, live);
    session::finish(plan, started, watched, live)
}
