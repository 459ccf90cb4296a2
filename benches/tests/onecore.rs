//! `onecore` (what `scripts/bench-instructions.sh` counts) runs every scenario it names and checks it.

use std::process::Command;

fn onecore(scenario: &str, side: &str, rounds: u32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_onecore"))
        .args([scenario, side, &rounds.to_string()])
        .output()
        .expect("onecore runs");
    assert!(out.status.success(), "onecore {scenario} {side}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_string()
}

#[test]
fn every_scenario_moves_every_packet_and_says_how_many() {
    for side in ["global", "private", "split", "shm"] {
        assert_eq!(onecore("txonly64", side, 50), format!("txonly64 {side} 1600 packets"));
    }
    for side in ["feth", "shm"] {
        assert_eq!(onecore("pingpong", side, 100), format!("pingpong {side} 200 packets"));
    }
}

#[test]
fn an_unknown_side_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_onecore")).args(["txonly64", "nosuch", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown side nosuch"));
}
