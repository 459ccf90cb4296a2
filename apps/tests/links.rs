//! feth's logical links, TSO and LRO from the command line: the queue pairs the links make, TSO frames
//! longer than the MTU forwarded whole, and every new flag's error in one line naming it.

mod common;

use common::*;

#[test]
fn logical_links_give_every_queue_set_its_ports_and_workers() {
    let v = json(&[
        "fwd",
        "--mode",
        "txonly",
        "--llink-cnt",
        "2",
        "--qset-cnt",
        "2",
        "--low-latency",
        "--lro",
        "--allow-shared-cores",
        "--duration",
        "0.5",
        "--json",
    ]);
    let names: Vec<&str> = v["ports"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    let want = ["feth0q0", "feth1q0", "feth0q1", "feth1q1", "feth0q2", "feth1q2", "feth0q3", "feth1q3"];
    assert_eq!(names, want, "2 links x 2 sets: four queue pairs a port");
    let feth = &v["settings"]["feth"];
    assert_eq!((&feth["llink-cnt"], &feth["qset-cnt"]), (&2.into(), &2.into()));
    assert_eq!((&feth["low-latency"], &feth["lro"], &feth["tso"]), (&true.into(), &true.into(), &false.into()));
    // Each receiving queue set got what its sending set made, and every packet is accounted for.
    for pair in v["ports"].as_array().unwrap().chunks(2) {
        assert!(pair[0]["tx_packets"].as_u64().unwrap() > 0, "{}", pair[0]["name"]);
        assert!(pair[1]["rx_packets"].as_u64().unwrap() > 0, "{}", pair[1]["name"]);
    }
    assert_eq!(v["accounting"]["unaccounted"], 0);
    assert_eq!(v["accounting"]["buffers_leaked"], 0);
}

#[test]
fn tso_forwards_frames_longer_than_the_mtu_whole() {
    let v = json(&["fwd", "--mode", "io", "--tso", "--pkt-len", "9000", "--duration", "0.3", "--json"]);
    assert_eq!(v["mean_len"], 9000.0, "frames of 9000 B at MTU 1500 cross whole");
    assert!(v["packets"].as_u64().unwrap() > 0);
    assert_eq!(v["drops_total"], 0);
    assert_eq!(v["accounting"]["unaccounted"], 0);
    // Without TSO the same length is beyond the MTU, and said so.
    usage_error(&["fwd", "--pkt-len", "9000", "--duration", "0.3"], &["--pkt-len 9000", "60..=1518"]);
    // With TSO, no longer than a packet of the pool holds (16384 B buffers, 32 B of headroom).
    usage_error(&["fwd", "--tso", "--pkt-len", "16353", "--duration", "0.3"], &["--pkt-len 16353", "60..=16352"]);
}

#[test]
fn the_new_knobs_refuse_bad_values_in_one_line_naming_them() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--llink-cnt", "17"], &["invalid --llink-cnt 17", "0 (off)..=16"]),
        (&["--llink-cnt", "x"], &["--llink-cnt x", "0 (off)..=16"]),
        (&["--qset-cnt", "0"], &["invalid --qset-cnt 0", "1..=16"]),
        (&["--tso-buf-size", "1000"], &["invalid --tso-buf-size 1000", "a power of two in 512..=32768"]),
        (&["--tso", "--pool-mode", "split"], &["invalid --tso with --pool-mode split", "--pool-mode global"]),
        (&["--llink-cnt", "17", "--rxq", "2"], &["invalid --llink-cnt 17", "0 (off)..=16"]),
        (
            &["--llink-cnt", "2", "--qset-cnt", "1", "--cores", "3", "--allow-shared-cores"],
            &["(--pairs x --llink-cnt x --qset-cnt)"],
        ),
        (
            &["--llink-cnt", "16", "--qset-cnt", "16"],
            &["invalid --pairs 1 with --llink-cnt 16 --qset-cnt 16", "--pairs x --llink-cnt x --qset-cnt <= "],
        ),
        (&["--llink-cnt", "2", "--port", "null"], &["invalid --llink-cnt 2 --qset-cnt 4 with --port null"]),
        (&["--llink-cnt", "2", "--rxq", "2"], &["invalid --rxq 2 with --llink-cnt 2", "valid is --rxq 1"]),
        (&["--llink-cnt", "2", "--rss"], &["invalid --rss with --llink-cnt 2", "valid is --rss=off"]),
        (&["--lro=maybe"], &["--lro", "on or off"]),
        (&["--qset-cnt", "8"], &["invalid --qset-cnt 8 in this run", "valid with --llink-cnt 1 or more"]),
        (
            &["--llink-cnt", "2", "--qset-cnt", "1", "--low-latency"],
            &["invalid --low-latency on", "--qset-cnt 2 or more"],
        ),
        (&["--tso-buf-size", "4096"], &["invalid --tso-buf-size 4096 in this run", "valid with --tso"]),
        (&["--port", "null", "--tso", "--pkt-len", "9000"], &["invalid --pkt-len 9000", "60..=1518"]),
    ];
    for (flags, needles) in cases {
        usage_error(&[&["fwd", "--duration", "0.3"][..], flags].concat(), needles);
    }
    usage_error(&["latency", "--low-latency", "--duration", "0.3"], &["invalid --low-latency with latency"]);
    usage_error(
        &["latency", "--llink-cnt", "2", "--qset-cnt", "1", "--duration", "0.3"],
        &["invalid --llink-cnt 2 --qset-cnt 1 with latency", "one queue pair"],
    );
}
