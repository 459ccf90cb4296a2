#!/usr/bin/env bash
# Real-interface ports over a veth pair, one core each side: pktloop's AF_PACKET and AF_XDP ports against
# DPDK's net_af_packet and net_af_xdp (dpdk-testpmd, Debian package dpdk-dev), txonly and rxonly at 64 B
# and 1500 B, interleaved A B A B (RUNS each, default 5), best against best and the median of the pairwise
# ratios (scripts/compare.sh). Then pktloop's AF_XDP against its own AF_PACKET (AF_XDP should be ahead), and
# AF_XDP's receive side with the program as generic XDP (`--xdp-mode generic`) against both.
#
#   scripts/bench.sh wire [RUNS] [FILTER]      e.g. scripts/bench.sh wire 5 "afxdp tx"
#
# Every run makes two network namespaces joined by a veth pair (va in one, vb in the other) and deletes
# them afterwards: nothing touches the machine's interfaces, and no frame can leave. The measured side
# (pktloop or testpmd, its workers on CPU 0) binds to vb.
# - tx: it sends UDP 198.18.0.1:9 -> 198.18.0.2:9 frames to 02:00:00:00:00:00 (testpmd's default peer; the
#   same for pktloop's port 0), counted by va's rx_packets over the run's window (after 1 s of warm-up,
#   until 1 s before its end): frames the kernel at the other end took.
# - rx: benches/src/bin/kernelgen.rs sends frames into va from CPU 1 (AF_PACKET, sendmmsg), and the rate is
#   what the measured side itself received per second: the median of its per-second figures after the
#   first (pktloop's live line, testpmd's --stats-period 1 Rx-pps).
# Both sides use the same queue count (1), qdisc bypass on AF_PACKET, and copy mode on AF_XDP (veth has no
# zero-copy). Logs: $CARGO_TARGET_DIR/bench-logs/wire-<time>/.
set -euo pipefail

runs="${1:-5}"
filter="${2:-}"
secs="${WIRE_BENCH_SECONDS:-5}"
# bench_dirs (root, target, log_dir) and compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"
bench_dirs wire
cargo build --release -q -p pktloop -p pktloop-benches --bin pktloop --bin kernelgen
pktloop="$target/release/pktloop"
kernelgen="$target/release/kernelgen"

if ! command -v dpdk-testpmd >/dev/null 2>&1; then
    echo "dpdk-testpmd is not installed (apt-get install dpdk-dev): no peer, nothing to compare" >&2
    exit 1
fi

# Frames per second (millions) that counter $3 of interface $2 in namespace $1 grows by over the window.
window_rate() {
    local ns="$1" ifname="$2" counter="$3" file a b t0 t1
    file="/sys/class/net/$ifname/statistics/$counter"
    sleep 1.5
    a="$(ip netns exec "$ns" cat "$file")"; t0="$(date +%s.%N)"
    sleep "$((secs - 3))"
    b="$(ip netns exec "$ns" cat "$file")"; t1="$(date +%s.%N)"
    python3 -c "print(f'{($b - $a) / ($t1 - $t0) / 1e6:.3f}')"
}

# The median per-second receive rate (Mpps) a log shows, the first second left out.
app_rx_rate() {
    python3 - "$1" "$2" <<'PY'
import re, statistics, sys
text = open(sys.argv[1], errors="replace").read()
if sys.argv[2] == "pktloop":
    v = [float(x) for x in re.findall(r"\]\s+([0-9.]+) Mpps", text)]
else:
    v = [int(x) / 1e6 for x in re.findall(r"Rx-pps:\s+([0-9]+)", text)]
v = v[1:-1] if len(v) > 2 else v
print(f"{statistics.median(v):.3f}" if v else "0")
PY
}

# measure SIDE KIND DIR LEN: SIDE pktloop|dpdk, KIND afpacket|afxdp, DIR tx|rx.
measure() {
    local side="$1" kind="$2" dir="$3" len="$4" na="pktloop-wa-$$" nb="pktloop-wb-$$" app gen="" rate
    ip netns add "$na"; ip netns add "$nb"
    for ns in "$na" "$nb"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip netns exec "$ns" ip link set lo up
    done
    ip -n "$na" link add va type veth peer name vb netns "$nb"
    ip -n "$na" link set va up; ip -n "$nb" link set vb up
    local log="$log_dir/$side-$kind-$dir-$len-$(date +%s%N).log"
    local mode=txonly; [ "$dir" = tx ] || mode=rxonly
    if [ "${side%-generic}" = pktloop ]; then
        local xdp=auto; [ "$side" = pktloop ] || xdp=generic
        # --xdp-mode only with an AF_XDP port (pktloop refuses a flag that would change nothing).
        local xdp_args=(); [ "$kind" = afxdp ] && xdp_args=(--xdp-mode "$xdp")
        ip netns exec "$nb" env PKTLOOP_NO_HUGEPAGES=1 taskset -c 0 "$pktloop" fwd --port "$kind:vb" --mode "$mode" \
            --pkt-len "$len" --cores 1 --duration "$secs" "${xdp_args[@]}" >"$log" 2>&1 &
    else
        local vdev="net_af_xdp0,iface=vb,start_queue=0,queue_count=1"
        [ "$kind" = afxdp ] || vdev="net_af_packet0,iface=vb,qpairs=1,qdisc_bypass=1"
        ip netns exec "$nb" timeout -s INT "$((secs + 1))" dpdk-testpmd --lcores '0@0,1@0' --no-pci --no-huge -m 1024 \
            --log-level=error --vdev "$vdev" -- --forward-mode="$mode" --txpkts="$len" --nb-cores=1 \
            --stats-period 1 --total-num-mbufs=16384 </dev/null >"$log" 2>&1 &
    fi
    app=$!
    if [ "$dir" = tx ]; then
        rate="$(window_rate "$na" va rx_packets)"
    else
        sleep 1
        ip netns exec "$na" taskset -c 1 "$kernelgen" va "$len" "$((secs - 1))" >"$log.gen" 2>&1 &
        gen=$!
    fi
    [ -z "$gen" ] || wait "$gen" || true
    wait "$app" || true
    [ "$dir" = tx ] || rate="$(app_rx_rate "$log" "${side%-generic}")"
    ip netns del "$na"; ip netns del "$nb"
    echo "$rate"
}

echo "each comparison: A B interleaved, $runs runs each, $secs s per run; logs $log_dir"
for kind in afpacket afxdp; do
    dpdk=net_af_packet; [ "$kind" = afpacket ] || dpdk=net_af_xdp
    for len in 64 1500; do
        for dir in tx rx; do
            compare "$kind $dir ${len}B pktloop / $dpdk" 1.5 1 -- pktloop "$kind" "$dir" "$len" -- dpdk "$kind" "$dir" "$len"
        done
    done
done
for dir in tx rx; do
    compare "$dir 64B pktloop afxdp / afpacket" 1.0 1 -- pktloop afxdp "$dir" 64 -- pktloop afpacket "$dir" 64
done
# AF_XDP with its program as generic XDP (--xdp-mode generic), which on veth costs the receiving side less.
compare "afxdp rx 64B pktloop generic / net_af_xdp" 1.5 1 -- pktloop-generic afxdp rx 64 -- dpdk afxdp rx 64
compare "rx 64B pktloop afxdp generic / afpacket" 1.0 1 -- pktloop-generic afxdp rx 64 -- pktloop afpacket rx 64
