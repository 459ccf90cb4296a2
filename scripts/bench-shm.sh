#!/usr/bin/env bash
# Two processes over shared memory: pktloop's shm pair against DPDK's memif pair (two dpdk-testpmd
# processes, Debian package dpdk-dev), and against pktloop's own in-process feth pair doing the same work,
# interleaved A B A B (RUNS each, default 5), best against best and the median of the pairwise ratios
# (scripts/compare.sh).
#
#   scripts/bench.sh shm [RUNS] [FILTER]      e.g. scripts/bench.sh shm 5 "64 B"
#
# txonly -> rxonly: the sender on core 1, the receiver on core 0, one core each, SECS seconds (default 4).
# pktloop's figure is the sending client's Mpps (a packet counts as sent when the receiving process takes it
# off the ring); testpmd's is the receiving server's best Rx-pps second; feth's is `pktloop fwd --mode
# txonly` on a feth pair over two workers. The ping-pong is `pktloop latency`: across two processes (the
# shm server pings, the client pongs) against the in-process feth pair, p50 in ns.
# Logs: $CARGO_TARGET_DIR/bench-logs/shm-<time>/.
set -euo pipefail

runs="${1:-5}"
filter="${2:-}"
secs="${SHM_BENCH_SECONDS:-4}"
# bench_dirs (root, target, log_dir) and compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"
bench_dirs shm
cargo build --release -q -p pktloop --bin pktloop
pktloop="$target/release/pktloop"
sock="$log_dir/endpoint-$$.sock"

json_field() {
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"
}

# pktloop across two processes: server rxonly on core 0, client txonly on core 1; the client's Mpps.
shm_txrx() {
    local len="$1"
    local out="$log_dir/shm-$len-$(date +%s%N)"
    rm -f "$sock"
    "$pktloop" fwd --mode rxonly --port "shm:$sock" --role server --cores 0-0 --duration $((secs + 3)) --json \
        >"$out.server.json" 2>"$out.server.log" &
    local server=$!
    until [ -S "$sock" ]; do sleep 0.02; done
    "$pktloop" fwd --mode txonly --pkt-len "$len" --port "shm:$sock" --role client --cores 1-1 --duration "$secs" \
        --json >"$out.client.json" 2>"$out.client.log"
    kill -INT "$server" 2>/dev/null || true
    wait "$server" || true
    json_field "$out.client.json" "f\"{j['mpps']:.2f}\""
}

# The same work in one process: txonly on a feth pair, sender and receiver on a worker each.
feth_txrx() {
    local len="$1"
    local out="$log_dir/feth-$len-$(date +%s%N).json"
    "$pktloop" fwd --mode txonly --pkt-len "$len" --duration "$secs" --json >"$out" 2>/dev/null
    json_field "$out" "f\"{j['mpps']:.2f}\""
}

# DPDK's memif: a testpmd server in rxonly on core 0, a testpmd client in txonly on core 1; the server's
# best Rx-pps second. Each testpmd spends seconds zeroing its memory first, which the per-second figure
# leaves out; the client sends for SECS + 1 seconds from when it starts forwarding.
memif_txrx() {
    # A memif client that finds no listener at start gives up on that connection ("Failed to connect
    # socket") and its run measures nothing: such a run is logged and measured again (at most three times).
    local rate attempt
    for attempt in 1 2 3; do
        rate="$(memif_once "$1")"
        [ "$rate" != "0.00" ] && break
        echo "memif $1 B: the client did not connect (attempt $attempt), measured again" >>"$log_dir/runs.txt"
    done
    echo "$rate"
}

memif_once() {
    local len="$1"
    local out="$log_dir/memif-$len-$(date +%s%N)"
    local args=(--no-pci --no-huge -m 1024 --log-level=error) memif_sock="$log_dir/memif-$$.sock"
    rm -f "$memif_sock"
    # Each testpmd spends seconds zeroing its memory before it forwards (more in the slow placement), so
    # neither runs on a fixed clock: each is stopped once the client has sent for SECS whole seconds.
    timeout -s INT 120 dpdk-testpmd --lcores '0@0,1@0' "${args[@]}" --file-prefix "memifsrv$$" \
        --vdev "net_memif0,role=server,socket=$memif_sock,socket-abstract=no" -- --forward-mode=rxonly --nb-cores=1 \
        --stats-period 1 --total-num-mbufs=8192 </dev/null >"$out.server.log" 2>&1 &
    local server=$!
    # The socket exists as soon as the port is probed, seconds before testpmd has made its pools and
    # started the port, and a memif client that finds no listener does not retry for seconds: wait until
    # the server forwards.
    if forwarding "$out.server.log"; then
        timeout -s INT 120 dpdk-testpmd --lcores '0@1,1@1' "${args[@]}" --file-prefix "memifcli$$" \
            --vdev "net_memif0,role=client,socket=$memif_sock,socket-abstract=no" -- --forward-mode=txonly \
            --txpkts="$len" --nb-cores=1 --stats-period 1 --total-num-mbufs=8192 </dev/null >"$out.client.log" 2>&1 &
        local client=$!
        forwarding "$out.client.log" && sleep $((secs + 1))
        kill -INT "$client" 2>/dev/null || true
        wait "$client" || true
    fi
    kill -INT "$server" 2>/dev/null || true
    wait "$server" || true
    awk '/Rx-pps:/ { if ($2 > best) best = $2 } END { printf "%.2f\n", best / 1e6 }' "$out.server.log"
}

# Waits (at most a minute) until the testpmd logging to $1 has started forwarding.
forwarding() {
    local tries
    for ((tries = 0; tries < 1200; tries++)); do
        grep -q "start packet forwarding" "$1" && return 0
        sleep 0.05
    done
    return 1
}

# Round-trip p50 in ns: across two processes (shm) or a feth pair in one.
latency_p50() {
    local out="$log_dir/latency-$1-$(date +%s%N)"
    if [ "$1" = shm ]; then
        rm -f "$sock"
        "$pktloop" latency --port "shm:$sock" --role server --duration "$secs" --no-peer --json >"$out.json" \
            2>"$out.log" &
        local server=$!
        until [ -S "$sock" ]; do sleep 0.02; done
        "$pktloop" latency --port "shm:$sock" --role client --duration $((secs + 1)) >"$out.client.log" 2>&1
        wait "$server"
    else
        "$pktloop" latency --duration "$secs" --no-peer --json >"$out.json" 2>"$out.log"
    fi
    json_field "$out.json" "j['p50_ns']"
}

measure() {
    case "$1" in
    shm) shm_txrx "$2" ;;
    feth) feth_txrx "$2" ;;
    memif) memif_txrx "$2" ;;
    latency) latency_p50 "$2" ;;
    esac
}

echo "each comparison: A B interleaved, $runs runs each; figures in Mpps (ping-pong: ns); logs $log_dir"
if command -v dpdk-testpmd >/dev/null 2>&1; then
    compare "shm 64 B / memif" 5 1 -- shm 64 -- memif 64
    compare "shm 1518 B / memif" - 1 -- shm 1518 -- memif 1518
else
    echo "shm / memif: dpdk-testpmd not installed (apt-get install dpdk-dev)"
fi
compare "shm 64 B / feth in one process" 0.8 1 -- shm 64 -- feth 64
compare "shm 1518 B / feth in one process" 0.8 1 -- shm 1518 -- feth 1518
compare "ping-pong p50 shm / feth (ns)" 1.2 0 -- latency shm -- latency feth
