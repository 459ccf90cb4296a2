//! `--help` against what runs: the defaults each subcommand's help states are the ones a run reports, and
//! the READMEs name only flags that exist and every flag that does. Runs are short and serialised.

mod common;

use common::*;
use serde_json::Value;

fn help(cmd: &str) -> String {
    let o = pktloop(&[cmd, "--help"]);
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

/// Each long flag of a help text with its paragraph, joined into one line.
fn flags(help: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if line.starts_with("      --") || line.starts_with("  -h, --") {
            let name = t.split("--").nth(1).unwrap().split(['[', ' ', '=', '<']).next().unwrap();
            out.push((name.to_owned(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push(' ');
            text.push_str(t);
        }
    }
    out
}

/// The text of `flag`'s `[default: ...]`, brackets inside it kept.
fn default_of(help: &str, flag: &str) -> String {
    let (_, text) = flags(help).into_iter().find(|(n, _)| n == flag).unwrap_or_else(|| panic!("--{flag}"));
    let start = text.find("[default: ").unwrap_or_else(|| panic!("--{flag} states no default: {text}")) + 10;
    let mut depth = 1;
    let end = text[start..]
        .char_indices()
        .find(|&(_, c)| {
            depth += i32::from(c == '[') - i32::from(c == ']');
            depth == 0
        })
        .unwrap()
        .0;
    text[start..start + end].to_owned()
}

#[test]
fn topology_defaults_to_loop_whatever_the_cores() {
    let h = help("fwd");
    let stated = default_of(&h, "topology");
    assert!(stated.starts_with("loop") && !stated.contains("paired"), "help says {stated:?}");
    for cores in ["1", "2"] {
        let v = json(&["fwd", "--cores", cores, "--duration", "0.2", "--json", "--allow-shared-cores"]);
        assert_eq!(v["topology"], "loop", "--cores {cores}");
    }
}

#[test]
fn cores_default_to_a_worker_per_port_queue_where_the_cores_allow() {
    let stated = default_of(&help("fwd"), "cores");
    assert!(stated.starts_with("a worker per port queue where the cores allow, else per queue pair; 1 for null"));
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let v = json(&["fwd", "--duration", "0.2", "--json"]);
    assert_eq!(v["cores"].as_u64(), Some(if available >= 2 { 2 } else { 1 }), "{available} cores");
    let v = json(&["fwd", "--port", "null", "--duration", "0.2", "--json"]);
    assert_eq!(v["cores"].as_u64(), Some(1));
}

/// `settings` of `fwd --json` holds each knob under its flag's name (feth knobs with dashes, the others with
/// underscores); a flag's one-word default must be what the run used.
fn setting<'a>(s: &'a Value, flag: &str) -> Option<&'a Value> {
    let under = flag.replace('-', "_");
    [&s["feth"][flag], &s[under.as_str()], &s["tap"][flag], &s["generator"][under.as_str()]]
        .into_iter()
        .find(|v| !v.is_null())
}

fn same(stated: &str, used: &Value) -> bool {
    match used {
        Value::Bool(b) => stated == if *b { "on" } else { "off" },
        Value::Number(n) => stated.parse::<f64>().ok() == n.as_f64(),
        Value::String(s) => s == stated || s.replace('_', "-") == stated,
        // A generator field: one value (an address as text, a port as a number) and its count.
        Value::Object(o) if o["count"] == 1 => same(stated, &o["first"]),
        _ => false,
    }
}

#[test]
fn one_word_defaults_are_what_fwd_runs_with() {
    let h = help("fwd");
    let v = json(&["fwd", "--duration", "0.2", "--json"]);
    let mut checked = Vec::new();
    for (flag, text) in flags(&h) {
        if !text.contains("[default: ") {
            continue;
        }
        let stated = default_of(&h, &flag);
        if stated.contains([' ', ',', ';', '/']) {
            continue;
        }
        if let Some(used) = setting(&v["settings"], &flag) {
            assert!(same(&stated, used), "--{flag}: help says {stated}, the run used {used}");
            checked.push(flag);
        }
    }
    // The knobs this must cover, so it cannot pass by matching nothing.
    for flag in ["burst", "tx-first", "pool-size", "ring-size", "tx-headroom", "max-mtu", "wmm", "pool-mode", "mtu"] {
        assert!(checked.iter().any(|c| c == flag), "--{flag} not checked: {checked:?}");
    }
}

#[test]
fn latency_defaults_to_closed_loop() {
    assert_eq!(default_of(&help("latency"), "rate"), "0");
    let v = json(&["latency", "--duration", "0.1", "--no-peer", "--json", "--allow-shared-cores"]);
    assert_eq!((v["loop"].as_str(), v["rate"]["asked_pps"].is_null()), (Some("closed"), true), "{v}");
}

/// Every `--flag` a README names.
fn readme_flags(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = Vec::new();
    for (i, _) in text.match_indices("--") {
        let rest = &text[i + 2..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        let before = text[..i].chars().last().unwrap_or(' ');
        if name.len() > 1 && !name.ends_with('-') && !before.is_ascii_alphanumeric() && before != '-' {
            out.push(name);
        }
    }
    out
}

#[test]
fn readmes_name_only_flags_that_exist_and_every_flag_that_does() {
    let all: Vec<(String, Vec<String>)> = ["fwd", "latency", "bench"]
        .iter()
        .map(|c| (c.to_string(), flags(&help(c)).into_iter().map(|(n, _)| n).collect()))
        .collect();
    // Flags of other programs the READMEs quote (cargo, testpmd, the kernel's tools).
    let foreign = [
        "release",
        "example",
        "test",
        "all-targets",
        "workspace",
        "cfg",
        "lib",
        "nocapture",
        "target",
        "no-fail-fast",
        "tests",
        "toolchain",
    ];
    for readme in ["README.md", "../README.md"] {
        for f in readme_flags(readme) {
            let known = all.iter().any(|(_, fl)| fl.contains(&f)) || foreign.contains(&f.as_str());
            assert!(known, "{readme} names --{f}, which no subcommand has");
        }
    }
    let documented = readme_flags("README.md");
    for (cmd, fl) in &all {
        for f in fl.iter().filter(|f| *f != "help") {
            assert!(documented.contains(f), "apps/README.md does not document {cmd} --{f}");
        }
    }
}
