#!/usr/bin/env bash
# The packet-path targets, measured the only way figures mean something on a shared 2-vCPU machine whose
# placement changes from run to run: each comparison runs its two sides interleaved (A B A B ...), RUNS
# times each (default 5), and reports the best run of each side (what the hardware allows undisturbed),
# the ratio of the bests, and the median of the pairwise ratios A_i / B_i.
#
#   scripts/bench-path.sh [RUNS] [FILTER]      e.g. scripts/bench-path.sh 5 txonly
#
# Sides are `pathbench` runs (benches/src/bin/pathbench.rs: pktloop and floors written with no pktloop
# types), DPDK's dpdk-testpmd (Debian package dpdk-dev; skipped with a note when absent) and criterion's
# ring benchmark (pktloop vs rtrb's chunk API). Every side checks its own result before printing it.
# Logs: $CARGO_TARGET_DIR/bench-logs/path-<time>/.
set -euo pipefail

runs="${1:-5}"
filter="${2:-}"
# bench_dirs (root, target, log_dir) and compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"
bench_dirs path
cargo build --release -q -p pktloop-benches --bin pathbench --bin dlilbench
cargo bench -q -p pktloop-benches --bench ring --no-run >/dev/null 2>&1
pathbench="$target/release/pathbench"
dlilbench="$target/release/dlilbench"

# One measurement of one side, printed as a bare number.
#   pb SCENARIO SIDE [LINE]   pathbench; LINE picks the output line (ping-pong prints p50 then p99.9)
#   testpmd                   dpdk-testpmd io forwarding over two net_ring ports, best Rx-pps of port 0
#   ring NAME                 criterion's ring benchmark NAME, in M items/s
#   dlil SIDE                 dlilbench (benches/src/bin/dlilbench.rs): the input layer run to completion or
#                             on an input thread handing bursts to a worker, or their floors, Mpps
measure() {
    case "$1" in
    pb) "$pathbench" "$2" "$3" | sed -n "${4:-1}p" | awk '{ print $3 }' ;;
    dlil) "$dlilbench" "$2" 2>/dev/null | awk '{ print $3 }' ;;
    testpmd) testpmd_io ;;
    ring) criterion_ring "$2" ;;
    esac
}

# testpmd now and then prints no statistics at all (it did not start forwarding within its 8 s): such a run is
# logged and measured again, at most three times, as bench-shm.sh does for memif.
testpmd_io() {
    local rate attempt
    for attempt in 1 2 3; do
        rate="$(testpmd_io_once)"
        [ -n "$rate" ] && break
        echo "testpmd: no statistics (attempt $attempt), measured again" >>"$log_dir/runs.txt"
    done
    echo "$rate"
}

testpmd_io_once() {
    local out
    out="$(timeout -s INT 8 dpdk-testpmd --lcores '0@0,1@0,2@1' --no-pci --no-huge -m 1024 --log-level=error \
        --vdev net_ring0 --vdev net_ring1 -- --forward-mode=io --nb-cores=2 --tx-first --stats-period 1 \
        --total-num-mbufs=8192 2>&1 </dev/null || true)"
    # Each stats period prints "Rx-pps:" once per port, port 0 first; take port 0's best second.
    awk '/Rx-pps:/ { if (++k % 2 == 1 && $2 > best) best = $2 } END { if (best > 0) printf "%.2f\n", best / 1e6 }' <<<"$out"
}

criterion_ring() {
    cargo bench -q -p pktloop-benches --bench ring -- "$1" 2>/dev/null |
        awk '/thrpt:/ { est = $4; unit = $5; f = (unit ~ /^Gelem/) ? 1000 : 1; printf "%.2f\n", est * f; exit }'
}


echo "each comparison: A B interleaved, $runs runs each; figures in Mpps (ping-pong: ns); logs $log_dir"
compare "txonly64 global / floor" 0.8 1 -- pb txonly64 global -- pb txonly64 floor
compare "txonly64 global / floor, buffers an odd number of lines apart" 0.8 1 -- pb txonly64 global -- pb txonly64 floor-odd
compare "txonly1518 global / floor" 0.8 1 -- pb txonly1518 global -- pb txonly1518 floor
compare "txonly1518 multibuflet / floor" 0.8 1 -- pb txonly1518 global-multi -- pb txonly1518 floor
compare "txonly64 private / global" 0.6 1 -- pb txonly64 private -- pb txonly64 global
compare "txonly64 private / its floor (writes its own buffer, then copies)" - 1 -- pb txonly64 private -- pb txonly64 floor-private
compare "txonly64 split / global" 0.5 1 -- pb txonly64 split -- pb txonly64 global
compare "iofwd private / global" 0.3 1 -- pb iofwd private -- pb iofwd global
compare "iofwd split / global" 0.3 1 -- pb iofwd split -- pb iofwd global
compare "pingpong p50 feth / floor (ns)" 1.2 0 -- pb pingpong feth 1 -- pb pingpong floor 1
compare "pingpong p99.9 feth / floor (ns)" 1.5 0 -- pb pingpong feth 2 -- pb pingpong floor 2
# The harness calls the ports through `dyn Port`, as applications do, where the floor's ring calls inline
# into its poll loop: the same floor called through trait objects shows what such a call costs alone.
compare "pingpong p50 floor called / floor (ns)" - 0 -- pb pingpong floor-called 1 -- pb pingpong floor 1
compare "pingpong p50 feth / floor called (ns)" - 0 -- pb pingpong feth 1 -- pb pingpong floor-called 1
# The shm pair's path alone, both ends in this process (bench-shm.sh measures across two processes).
compare "pingpong p50 shm / feth, one process (ns)" - 0 -- pb pingpong shm 1 -- pb pingpong feth 1
compare "iofwd global / floor, 8-byte handles" - 1 -- pb iofwd global -- pb iofwd floor
compare "iofwd floor, 4-byte / 8-byte handles" - 1 -- pb iofwd floor-4 -- pb iofwd floor
compare "iofwd global / pktloop's ring alone" - 1 -- pb iofwd global -- pb iofwd ring
# A ring whose slots carry their lap (benches/src/stamped.rs): the consumer reads no position of the
# producer's. How far below the floor's head-and-tail ring a protocol can take io forwarding.
compare "iofwd floor, lap-stamped / head-and-tail ring" - 1 -- pb iofwd floor-stamped -- pb iofwd floor
if command -v dpdk-testpmd >/dev/null 2>&1; then
    compare "iofwd floor, lap-stamped / testpmd net_ring" - 1 -- pb iofwd floor-stamped -- testpmd
    compare "iofwd global / testpmd net_ring" 1.3 1 -- pb iofwd global -- testpmd
else
    echo "iofwd global / testpmd net_ring: dpdk-testpmd not installed (apt-get install dpdk-dev)"
fi
# cost NAME TARGET SIDE: the input layer's cost per packet over bare rx_burst, which `dlilbench SIDE`
# measures itself with the two interleaved in short blocks on one core (best block against best block);
# run RUNS times, the target judged on the median of the runs.
cost() {
    local name="$1" target="$2" side="$3" v=()
    if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then return; fi
    for i in $(seq 1 "$runs"); do
        local line
        line="$("$dlilbench" "$side" 2>/dev/null)"
        echo "$name run $i: $line" >>"$log_dir/runs.txt"
        v+=("$(awk '{ print $3 }' <<<"$line")")
    done
    python3 - "$name" "$target" "${v[*]}" <<'PY' | tee -a "$log_dir/summary.txt"
import statistics, sys
name, target, v = sys.argv[1], float(sys.argv[2]), [float(x) for x in sys.argv[3].split()]
median = statistics.median(v)
verdict = "met" if median <= target else "NOT met"
print(f"{name:34} median {median:5.2f} ns/pkt over bare (runs {v})  target <= {target}: {verdict}")
PY
}

cost "dlil layer, 1 protocol (ns/pkt over bare)" 2 layer-cost
cost "dlil layer, 3 pass filters (ns/pkt over bare)" 5 layer-cost-3
compare "dlil input thread / run to completion" 0.8 1 -- dlil input-thread -- dlil rtc
compare "dlil fwd input thread / run to completion" 0.8 1 -- dlil input-thread-fwd -- dlil rtc-fwd
# The same ratio with no pktloop type (benches/src/dlil_floor.rs): what the hardware allows for this work.
compare "dlil floor hand-off, 8-byte handles / run to completion" - 1 -- dlil floor-handoff-8 -- dlil floor-rtc
compare "dlil floor lending, 4-byte handles / run to completion" - 1 -- dlil floor-lend-4 -- dlil floor-rtc
compare "dlil input thread / floor hand-off, 8-byte handles" - 1 -- dlil input-thread -- dlil floor-handoff-8
compare "ring burst32 pktloop / rtrb chunk" 1.2 1 -- ring ring_cross_core_u64_burst32/pktloop -- \
    ring ring_cross_core_u64_burst32/rtrb
