//! Every numeric knob just beyond its bounds, on the command line and in a `--config` file: refused with
//! status 2 and one line naming the flag, the value given and the valid range; and at its bounds, taken.

mod common;

use common::*;
use std::process::Output;

/// (flag, a value just below its range, a value just above, what the message says is valid).
const BEYOND: &[(&str, &str, &str, &str)] = &[
    ("burst", "0", "513", "1..=512"),
    ("tx-first", "0", "65", "1..=64"),
    ("expiry-us", "-1", "10000001", "0..=10000000"),
    ("pcap-count", "0", "100000001", "1..=100000000"),
    ("count", "0", "1000000000001", "1..=1000000000000"),
    ("pairs", "0", "65", "1..=64"),
    ("rxq", "0", "9", "1..=8"),
    ("txq", "0", "9", "1..=8"),
    ("tap-queues", "0", "257", "1..=256"),
    ("pool-size", "0", "1048577", "1..=1048576"),
    ("ring-size", "1", "33554432", "2..=16777216"),
    ("tx-headroom", "-8", "40", "0, 8, 16, 24 or 32"),
    ("trailer-length", "-1", "29", "0..=28"),
    ("max-mtu", "1499", "16371", "1500..=16370"),
    ("buflet-size", "256", "65536", "512..=32768"),
    ("aggregation-factor", "0", "513", "1..=512"),
    ("tso-buf-size", "256", "65536", "512..=32768"),
    ("llink-cnt", "-1", "17", "0 (off)..=16"),
    ("qset-cnt", "0", "17", "1..=16"),
    ("user-access", "-1", "2", "0 or 1"),
    ("adv-interval-ms", "9", "2147483648", "10..=2147483647"),
    ("tx-drops", "-1", "2147483648", "0 (off)..=2147483647"),
    ("tx-exp-policy", "-1", "4", "3 (the packet's own action)"),
    ("mtu", "71", "2049", "72..=2048"),
    ("pkt-len", "59", "1519", "60..=1518"),
    ("duration", "0.09", "86401", "0.1..=86400"),
    ("stats-period", "0.09", "3601", "0.1..=3600"),
    ("snaplen", "13", "262145", "14..=262144"),
    ("replay-loops", "-1", "1000001", "0 (until the run ends)..=1000000"),
];

fn refused(o: &Output, flag: &str, value: &str, valid: &str, how: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "--{flag} {value} ({how}): {err}");
    assert_eq!(err.lines().count(), 1, "--{flag} {value} ({how}): {err:?}");
    assert!(err.contains(&format!("--{flag} {value}")), "--{flag} {value} ({how}): {err}");
    assert!(err.contains(valid), "--{flag} {value} ({how}): {err} lacks {valid:?}");
    assert!(o.stdout.is_empty(), "--{flag} {value} ({how}): nothing runs");
}

#[test]
fn every_knob_just_beyond_its_bounds_is_refused_on_the_command_line_and_in_a_file() {
    for (flag, below, above, valid) in BEYOND {
        // --replay-loops is only a setting next to --replay; the others stand alone.
        let needs: &[&str] = match *flag {
            "replay-loops" => &["--mode", "txonly", "--replay", "/dev/null"],
            "count" => &["--mode", "txonly"],
            _ => &[],
        };
        for value in [below, above] {
            let arg = format!("--{flag}={value}");
            let o = pktloop(&[&["fwd"][..], needs, &[&arg]].concat());
            if *flag == "replay-loops" {
                // Checked before the file is read: the loops' range is named whatever the capture.
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(err.contains("--replay-loops") || err.contains("--replay /dev/null"), "{err}");
                continue;
            }
            refused(&o, flag, value, valid, "flag");
            let file = tmp(&format!("{flag}.toml"));
            std::fs::write(&file, format!("{flag} = {}\n", value)).unwrap();
            let o = pktloop(&[&["fwd"][..], needs, &["--config", file.to_str().unwrap()]].concat());
            refused(&o, flag, value, valid, "config file");
        }
    }
}

#[test]
fn knobs_at_their_bounds_are_taken() {
    let at: &[&[&str]] = &[
        &["--burst", "1"],
        &["--burst", "512", "--pool-size", "4096"],
        &["--tx-first", "64", "--pool-size", "4096"],
        &["--ring-size", "2"],
        &["--tx-headroom", "0"],
        &["--trailer-length", "28"],
        &["--max-mtu", "16370", "--buflet-size", "512", "--mtu", "16370", "--pkt-len", "1518"],
        &["--aggregation-factor", "512", "--pool-mode", "split"],
        &["--mtu", "72", "--pkt-len", "90"],
        &["--pkt-len", "60"],
        &["--stats-period", "0.1"],
        &["--rxq", "8", "--cores", "8", "--allow-shared-cores"],
        &["--pairs", "2", "--cores", "2"],
        &["--tso", "--tso-buf-size", "512"],
        &["--tso", "--tso-buf-size", "32768", "--pkt-len", "9014"],
        &["--llink-cnt", "1", "--qset-cnt", "1"],
        &["--llink-cnt", "1", "--qset-cnt", "16", "--cores", "16", "--allow-shared-cores"],
    ];
    for args in at {
        let o = pktloop(&[&["fwd", "--duration", "0.1", "--json"][..], args].concat());
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
