//! `pktloop fwd -i`: a prompt in the spirit of testpmd's. Commands come from stdin one per line, so a
//! script can drive it through a pipe:
//!
//! - `start`: make the ports and start forwarding (or generating) as the flags say;
//! - `stop`: stop, tear the ports down and print the run's report;
//! - `show port stats`: each port's counters since `clear stats`, and its rates since the last `show`;
//! - `set rate RATE`: the generators' rate, at once if running (`set rate max`: as fast as they go);
//! - `clear stats`: zero what `show port stats` counts from;
//! - `quit` (or end of input, or Ctrl-C): stop if running, then exit.
//!
//! With `--json` the prompt and its answers go to stderr, so that stdout holds only the reports' JSON.

use super::plan::Plan;
use super::report;
use super::session::{finish, snapshot, start, Started, Watched};
use crate::error::AppError;
use crate::gen::settings::{checked_rate, RATE_VALID};
use crate::gen::RateDial;
use pktloop_engine::port::PortStats;
use std::io::{BufRead, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// `println!` for the prompt's answers: [`Session::say`].
macro_rules! say {
    ($session:expr, $($text:tt)*) => {
        $session.say(format_args!($($text)*))
    };
}

/// A forwarding run under the prompt's control.
struct Session {
    plan: Plan,
    dial: RateDial,
    running: Option<(Started, Instant)>,
    /// Counters at the last `clear stats` (per port).
    cleared: Vec<PortStats>,
    /// Counters and time at the last `show port stats`.
    shown: Option<(Vec<PortStats>, Instant)>,
    /// Buffers a stopped run did not get back (0 unless something leaked).
    leaked: usize,
}

/// Runs the prompt over stdin until `quit` or end of input.
///
/// # Errors
/// A run that could not start or stop cleanly.
pub fn main(mut plan: Plan) -> Result<(), AppError> {
    let dial = RateDial::default();
    dial.set(plan.traffic.rate.map(|r| r.pps(plan.traffic.mean_len())));
    plan.dial = Some(dial.clone());
    let mut s = Session { plan, dial, running: None, cleared: Vec::new(), shown: None, leaked: 0 };
    let lines = read_lines();
    prompt(s.plan.json);
    loop {
        let line = match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => line.map_err(|e| AppError::runtime(format!("reading commands: {e}")))?,
            // Ctrl-C ends the session as `quit` does: the run stops and its report is printed.
            Err(RecvTimeoutError::Timeout) if crate::interrupt::requested() => break,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first().is_some_and(|w| matches!(*w, "quit" | "exit")) {
            break;
        }
        s.command(&words)?;
        prompt(s.plan.json);
    }
    s.stop()?;
    match s.leaked {
        0 => Ok(()),
        n => Err(AppError::runtime(format!("{n} buffers did not return to their pools"))),
    }
}

/// Lines of stdin, read on a thread of their own so that the prompt can also watch for Ctrl-C.
fn read_lines() -> Receiver<std::io::Result<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn prompt(json: bool) {
    say_to(json, format_args!("pktloop> "));
}

/// Writes what the prompt says: on stdout, or on stderr when stdout carries JSON.
fn say_to(json: bool, text: std::fmt::Arguments<'_>) {
    if json {
        let _ = std::io::stderr().write_fmt(text);
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_fmt(text);
        let _ = out.flush();
    }
}

impl Session {
    /// One line of the prompt's answer (see [`say_to`]).
    fn say(&self, text: std::fmt::Arguments<'_>) {
        say_to(self.plan.json, format_args!("{text}\n"));
    }

    fn command(&mut self, words: &[&str]) -> Result<(), AppError> {
        match words {
            [] => {}
            ["start"] => self.start()?,
            ["stop"] => {
                if self.running.is_none() {
                    say!(self, "not started");
                }
                self.stop()?;
            }
            ["show", "port", "stats"] | ["show", "stats"] => self.show(),
            ["clear", "stats"] | ["clear", "port", "stats"] => self.clear(),
            ["set", "rate", rate] => self.set_rate(rate),
            ["set", "rate"] => say!(self, "missing RATE: set rate RATE (1.5Mpps, 10Gbps, max)"),
            ["help"] => say!(
                self,
                "commands: start, stop, show port stats, set rate RATE (1.5Mpps, 10Gbps, max), clear stats, quit"
            ),
            other => say!(self, "unknown command `{}` (help lists the commands)", other.join(" ")),
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), AppError> {
        if self.running.is_some() {
            say!(self, "already started");
            return Ok(());
        }
        let started = start(&self.plan)?;
        self.cleared = vec![PortStats::default(); started.info.len()];
        self.shown = None;
        say!(self, "started: mode {} on {}", format!("{:?}", self.plan.mode).to_lowercase(), port_names(&started));
        self.running = Some((started, Instant::now()));
        Ok(())
    }

    fn stop(&mut self) -> Result<(), AppError> {
        let Some((started, at)) = self.running.take() else { return Ok(()) };
        let r = finish(
            &self.plan,
            started,
            Watched { start: at, intervals: Vec::new(), stalled: false, stopped: true },
            None,
        )?;
        if self.plan.json {
            println!("{}", report::json(&self.plan, &r));
        } else {
            report::print_table(&self.plan, &r);
        }
        self.leaked += r.leaked;
        Ok(())
    }

    fn show(&mut self) {
        let Some((started, _)) = &self.running else {
            say!(self, "not started");
            return;
        };
        let now = (snapshot(&started.info), Instant::now());
        for (i, (p, s)) in started.info.iter().zip(&now.0).enumerate() {
            let since = s.since(&self.cleared[i]);
            let (rx_pps, tx_pps) = match &self.shown {
                Some((before, t)) => {
                    let d = s.since(&before[i]);
                    let secs = (now.1 - *t).as_secs_f64().max(f64::MIN_POSITIVE);
                    (d.ipackets as f64 / secs, d.opackets as f64 / secs)
                }
                None => (0.0, 0.0),
            };
            say!(
                self,
                "  port {i} {}: RX-packets {} RX-bytes {} TX-packets {} TX-bytes {} drops {} | Rx-pps {:.0} Tx-pps {:.0}",
                p.name,
                since.ipackets,
                since.ibytes,
                since.opackets,
                since.obytes,
                since.total_drops(),
                rx_pps,
                tx_pps
            );
        }
        self.shown = Some(now);
    }

    fn clear(&mut self) {
        match &self.running {
            Some((started, _)) => {
                self.cleared = snapshot(&started.info);
                self.shown = None;
                say!(self, "stats cleared");
            }
            None => say!(self, "not started"),
        }
    }

    fn set_rate(&mut self, text: &str) {
        if text.eq_ignore_ascii_case("max") {
            self.plan.traffic.rate = None;
            self.dial.set(None);
            say!(self, "rate: as fast as the ports take them");
            return;
        }
        // Bounded as the flag is.
        match checked_rate(text, self.plan.traffic.mean_len()) {
            Ok(r) => {
                let pps = r.pps(self.plan.traffic.mean_len());
                self.plan.traffic.rate = Some(r);
                self.dial.set(Some(pps));
                say!(self, "rate: {} per generator port", super::settings::pps_text(pps));
            }
            Err(why) => say!(self, "invalid rate {text}: {why}; valid is {RATE_VALID}, or max"),
        }
    }
}

fn port_names(s: &Started) -> String {
    s.info.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
}
