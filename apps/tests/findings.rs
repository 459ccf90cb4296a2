//! Findings of the hostile test pass (issue 14), each pinned by a test that failed before its fix. Runs
//! are serialised (their workers pin to the same cores).

use serde_json::Value;
use std::process::{Command, Output};
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn pktloop(args: &[&str]) -> Output {
    let _guard = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    Command::new(env!("CARGO_BIN_EXE_pktloop"))
        .args(args)
        .env("PKTLOOP_NO_HUGEPAGES", "1")
        .output()
        .expect("run pktloop")
}

fn mpps(args: &[&str]) -> f64 {
    let o = pktloop(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["accounting"]["unaccounted"], 0, "{args:?}");
    v["mpps"].as_f64().unwrap()
}

#[test]
fn no_pool_mode_stalls_a_generator_behind_wmm_rings() {
    // Before: private and split pools with WMM moved about 0.02 Mpps (0.1% of the run without WMM): the
    // generator, its pool empty, never polled the port whose WMM rings held every buffer. WMM's own cost
    // (four rings and a class per packet) is well under a factor of ten.
    for mode in ["txonly", "rxonly"] {
        for pool in ["global", "private", "split"] {
            let base = ["fwd", "--mode", mode, "--pool-mode", pool, "--duration", "0.5", "--json"];
            let plain = mpps(&base);
            let wmm = mpps(&[&base[..], &["--wmm"]].concat());
            assert!(wmm >= plain / 10.0, "{mode} {pool}: {wmm:.2} Mpps with WMM, {plain:.2} without");
        }
    }
}
