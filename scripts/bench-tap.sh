#!/usr/bin/env bash
# TAP frames per second each way, 64 B and 1500 B, one core, pktloop's TAP port against DPDK's net_tap
# (dpdk-testpmd, Debian package dpdk-dev), interleaved A B A B (RUNS each, default 5), best against best
# and the median of the pairwise ratios (scripts/compare.sh).
#
#   scripts/bench.sh tap [RUNS] [FILTER]      e.g. scripts/bench.sh tap 5 "into"
#
# Every run happens in a network namespace of its own, deleted afterwards (nothing touches the machine's
# interfaces, and no frame can leave). Both sides are counted by the kernel, over a window of the run after
# a second of warm-up: into the kernel by the interface's rx_packets (frames user space wrote and the kernel
# took), from the kernel by its tx_packets (frames user space read). Frames from the kernel come from
# benches/src/bin/kernelgen.rs (an AF_PACKET socket, sendmmsg, on the other core). Frames into the kernel
# are the same kind on both sides: UDP 198.18.0.1:9 -> 198.18.0.2:9 addressed to another host than the
# interface (testpmd's default), which the kernel takes in and drops at the Ethernet layer. pktloop's system calls
# per frame come from its own counters (--json); net_tap makes one readv or writev per frame by design.
# Logs: $CARGO_TARGET_DIR/bench-logs/tap-<time>/.
set -euo pipefail

runs="${1:-5}"
filter="${2:-}"
secs="${TAP_BENCH_SECONDS:-5}"
# bench_dirs (root, target, log_dir) and compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"
bench_dirs tap
cargo build --release -q -p pktloop -p pktloop-benches --bin pktloop --bin kernelgen
pktloop="$target/release/pktloop"
kernelgen="$target/release/kernelgen"

if ! command -v dpdk-testpmd >/dev/null 2>&1; then
    echo "dpdk-testpmd is not installed (apt-get install dpdk-dev): no peer, nothing to compare" >&2
    exit 1
fi

# Frames per second (millions) that counter $3 of interface $2 in namespace $1 grows by, over the run's
# window (after 1 s of warm-up, until 1 s before its end).
window_rate() {
    local ns="$1" ifname="$2" counter="$3" file a b t0 t1 waited=0
    file="/sys/class/net/$ifname/statistics/$counter"
    until ip netns exec "$ns" test -e "$file"; do
        sleep 0.05
        waited=$((waited + 1))
        [ "$waited" -lt 400 ] || { echo 0; return; }
    done
    sleep 1
    a="$(ip netns exec "$ns" cat "$file")"; t0="$(date +%s.%N)"
    sleep "$((secs - 2))"
    b="$(ip netns exec "$ns" cat "$file")"; t1="$(date +%s.%N)"
    python3 -c "print(f'{($b - $a) / ($t1 - $t0) / 1e6:.3f}')"
}

# measure SIDE DIR LEN: SIDE pktloop|net_tap, DIR into (frames to the kernel) | from (frames from it).
measure() {
    local side="$1" dir="$2" len="$3" ns="pktloop-tapbench-$$" ifname rate counter gen=""
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
    local app_log="$log_dir/$side-$dir-$len-$(date +%s%N).log"
    if [ "$side" = pktloop ]; then
        ifname=pkbench0
        local mode=txonly; [ "$dir" = into ] || mode=rxonly
        ip netns exec "$ns" env PKTLOOP_NO_HUGEPAGES=1 "$pktloop" fwd --port tap --tap-name "$ifname" --mode "$mode" \
            --pkt-len "$len" --cores 1 --duration "$secs" --json >"$app_log" 2>&1 &
    else
        ifname=dtbench0
        local mode=txonly; [ "$dir" = into ] || mode=rxonly
        ip netns exec "$ns" timeout -s INT "$((secs + 2))" dpdk-testpmd --lcores '0@0,1@0' --no-pci --no-huge -m 512 \
            --log-level=error --vdev "net_tap0,iface=$ifname" -- --forward-mode="$mode" --txpkts="$len" \
            --nb-cores=1 --stats-period 1 --total-num-mbufs=8192 </dev/null >"$app_log" 2>&1 &
    fi
    local app=$!
    if [ "$side" = pktloop ] && [ "$dir" = into ]; then
        # testpmd's txonly frames go to 02:00:00:00:00:00, another host than the interface (whose MAC the
        # kernel picks at random), so the kernel takes them in and drops them at the Ethernet layer. pktloop
        # addresses its frames to the interface's MAC, read when the port opens; giving the interface
        # another MAC after that makes its frames the same kind, and the kernel's work per frame the same.
        for _ in $(seq 200); do
            ip netns exec "$ns" test -e "/sys/class/net/$ifname" && break
            sleep 0.05
        done
        sleep 0.5
        ip netns exec "$ns" ip link set dev "$ifname" address 02:00:00:00:00:42
    fi
    counter=rx_packets
    if [ "$dir" = from ]; then
        counter=tx_packets
        # The generator starts once the interface exists and is up (the reader brings it up).
        (for _ in $(seq 200); do
            ip netns exec "$ns" test -e "/sys/class/net/$ifname" && break
            sleep 0.05
        done
        sleep 0.3
        ip netns exec "$ns" taskset -c 1 "$kernelgen" "$ifname" "$len" "$((secs - 1))" >>"$app_log.gen" 2>&1) &
        gen=$!
    fi
    rate="$(window_rate "$ns" "$ifname" "$counter")"
    [ -z "$gen" ] || wait "$gen" || true
    wait "$app" || true
    ip netns del "$ns"
    if [ "$side" = pktloop ]; then
        python3 - "$app_log" "$dir" >>"$log_dir/syscalls-$dir-$len.txt" <<'PY' || true
import json, sys
v = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
t = v["ports"][0]["tap"]
print(t["tx_syscalls_per_frame" if sys.argv[2] == "into" else "rx_syscalls_per_frame"], t["io"])
PY
    fi
    echo "$rate"
}

syscalls() {
    local f="$log_dir/syscalls-$1-$2.txt"
    [ -s "$f" ] || { echo "n/a"; return; }
    python3 -c "import statistics,sys; v=[float(l.split()[0]) for l in open('$f') if l.split()[0] != 'None']; \
print(f'{statistics.median(v):.4f} ({open(\"$f\").readline().split()[1]})' if v else 'n/a')"
}

echo "each comparison: A B interleaved, $runs runs each, $secs s per run; Mpps counted by the kernel; logs $log_dir"
for len in 64 1500; do
    for dir in into from; do
        target=-
        [ "$dir:$len" != into:64 ] || target=1.5
        name="tap $dir kernel ${len}B pktloop / net_tap"
        compare "$name" "$target" 1 -- pktloop "$dir" "$len" -- net_tap "$dir" "$len"
        if [ -z "$filter" ] || [[ "$name" == *"$filter"* ]]; then
            echo "    pktloop system calls per frame ($dir): $(syscalls "$dir" "$len"); net_tap: 1 (one per frame)" |
                tee -a "$log_dir/summary.txt"
        fi
    done
done
