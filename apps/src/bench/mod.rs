//! `pktloop bench`: SPEC's standard scenarios that exist so far, each for a short fixed time, peers measured
//! in the same run. One table on stdout, all figures in a JSON file.
//!
//! These are throughput and latency snapshots on whatever machine runs them (shared machines give noisy
//! figures); the criterion benches in `benches/` are the careful measurements.

mod forwarding;
mod latency;
mod pool;
mod ring;

use crate::cli::BenchArgs;
use crate::error::AppError;
use pktloop_engine::lcore;
use pktloop_engine::mem::Prefer;
use serde_json::{json, Value};
use std::time::Duration;

/// One result row.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    value: f64,
    unit: &'static str,
    peer: Option<(String, f64)>,
    note: String,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({
            "scenario": self.name,
            "value": self.value,
            "unit": self.unit,
            "peer": self.peer.as_ref().map(|(n, v)| json!({"name": n, "value": v})),
            "ratio_vs_peer": self.peer.as_ref().map(|(_, v)| self.value / v),
            "note": self.note,
        })
    }

    fn print(&self) {
        let (peer, ratio) = match &self.peer {
            Some((n, v)) => (format!("{n}: {v:.3}"), format!("{:.2}", self.value / v)),
            None => (String::new(), String::new()),
        };
        // A name longer than its column goes on a line of its own, so that the figures stay in theirs.
        let name = match self.name.len() > NAME_COLUMN {
            true => {
                println!("{}", self.name);
                ""
            }
            false => &self.name,
        };
        println!("{name:<NAME_COLUMN$} {:>12.3} {:<6} {:<40} {:>7}  {}", self.value, self.unit, peer, ratio, self.note);
    }
}

/// Characters of the table's scenario column.
const NAME_COLUMN: usize = 44;

/// What every scenario runs with, and the rows so far.
struct Suite<'a> {
    /// Time per scenario.
    secs: Duration,
    prefer: Prefer,
    /// Cores on the machine: no scenario runs more workers than this.
    available: usize,
    filter: Option<&'a str>,
    rows: Vec<Row>,
    /// Scenarios selected that could not run here, each with why (the TAP one without root).
    skipped: Vec<(String, String)>,
}

impl Suite<'_> {
    /// Whether the scenario `name` runs: the filter selects it and Ctrl-C has not been pressed (it skips
    /// the scenarios not yet run; the JSON keeps those that ran).
    fn wants(&self, name: &str) -> bool {
        // Either case: `--filter wmm` finds the WMM scenario.
        !crate::interrupt::requested() && self.filter.is_none_or(|f| name.to_lowercase().contains(&f.to_lowercase()))
    }

    /// Prints `r` (after the header, with the first row: a selection that runs nothing prints only its
    /// error) and keeps it for the JSON file.
    fn emit(&mut self, r: Row) {
        if self.rows.is_empty() {
            println!(
                "{:<NAME_COLUMN$} {:>12} {:<6} {:<40} {:>7}  note",
                "scenario", "value", "unit", "peer (same run)", "ratio"
            );
        }
        r.print();
        self.rows.push(r);
    }

    /// Records that the scenario `name` could not run here, and why (said on stderr, kept for the JSON file).
    fn skip(&mut self, name: String, why: String) {
        eprintln!("bench: {name}: skipped: {why}");
        self.skipped.push((name, why));
    }
}

/// Runs the suite.
pub fn main(a: &BenchArgs) -> Result<(), AppError> {
    let secs = crate::config::duration("duration", a.duration, 60.0)?;
    let available = lcore::plan(1).available;
    if available < 2 && !a.allow_shared_cores.unwrap_or(false) {
        return Err(AppError::usage(format!(
            "bench runs two-core scenarios but {available} core exists; valid is --allow-shared-cores to share it"
        )));
    }
    // Written at the end: a run that fails, or a filter that selects nothing, leaves the file as it was.
    let out_file = crate::output::LateOutput::open("out", &a.out)?;
    let prefer = crate::config::prefer(a.memory);
    let mut suite =
        Suite { secs, prefer, available, filter: a.filter.as_deref(), rows: Vec::new(), skipped: Vec::new() };
    ring::rows(&mut suite)?;
    pool::rows(&mut suite)?;
    forwarding::rows(&mut suite)?;
    latency::rows(&mut suite)?;
    if suite.rows.is_empty() && suite.skipped.is_empty() && !crate::interrupt::requested() {
        // Nothing ran: an empty table and file would look like a result.
        return Err(AppError::usage(format!(
            "invalid --filter {}: no scenario's name contains it; valid is a part of a name `pktloop bench` prints \
             (ring, pool, feth, null, scaling, latency, ...)",
            a.filter.as_deref().unwrap_or_default()
        )));
    }
    let out = json!({
        "duration_s_per_scenario": secs.as_secs_f64(),
        "cores_available": available,
        "results": suite.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        "skipped": suite.skipped.iter().map(|(s, why)| json!({"scenario": s, "why": why})).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&out).map_err(|e| AppError::runtime(e.to_string()))?;
    out_file
        .write((text + "\n").as_bytes())
        .map_err(|e| AppError::runtime(format!("cannot write --out {}: {e}", a.out.display())))?;
    println!("wrote {}", a.out.display());
    Ok(())
}
