#!/usr/bin/env bash
# The generator's costs and scaling, interleaved A B A B (RUNS each, default 5), best against best and the
# median of the pairwise ratios (scripts/compare.sh):
#   - pacing at full speed: txonly on a null port, one core, with --rate far beyond reach (a clock read
#     and a token-bucket step per burst) against no --rate (target: at least 0.95x);
#   - size mixes and flows: flowgen over 4096 flows with --pkt-len imix against txonly 64 B;
#   - scaling: txonly -> rxonly over feth queue pairs, W workers each owning one queue pair (both its
#     ports' queue: generate on one, receive on the other), W = 2 against W = 1, and the cycles each
#     packet costs a worker (per-core cost) at W = 1 and 2.
#
#   scripts/bench.sh gen [RUNS] [FILTER]     e.g. scripts/bench.sh gen 5 scaling
#
# Logs: $CARGO_TARGET_DIR/bench-logs/gen-<time>/.
set -euo pipefail

runs="${1:-5}"
filter="${2:-}"
secs="${GEN_BENCH_SECONDS:-2}"
# bench_dirs (root, target, log_dir) and compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
source "$(dirname "${BASH_SOURCE[0]}")/compare.sh"
bench_dirs gen
cargo build --release -q -p pktloop --bin pktloop
pktloop="$target/release/pktloop"

# measure FIELD ARGS...: runs `pktloop fwd ARGS --json` and prints FIELD of its JSON (mpps or
# cycles_per_packet).
measure() {
    local field="$1" out
    shift
    out="$log_dir/run-$(date +%s%N).json"
    env PKTLOOP_NO_HUGEPAGES=1 "$pktloop" fwd "$@" --duration "$secs" --json >"$out" 2>>"$log_dir/stderr.txt"
    python3 - "$out" "$field" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = d["cycles_per_packet"]["value"] if sys.argv[2] == "cycles" else d[sys.argv[2]]
print(f"{v:.3f}")
PY
}

null=(--port null --mode txonly --cores 1)
compare "pacing: --rate beyond reach / none" 0.95 1 -- mpps "${null[@]}" --rate 100000Mpps -- mpps "${null[@]}"
compare "flowgen imix 4096 flows / txonly 64" - 1 -- \
    mpps "${null[@]/txonly/flowgen}" --pkt-len imix --flows 4096 --src-port 1-4096 -- mpps "${null[@]}"
feth=(--mode txonly --topology loop)
compare "scaling: 2 workers / 1 (Mpps)" - 1 -- mpps "${feth[@]}" --rxq 2 --cores 2 -- mpps "${feth[@]}" --rxq 1 --cores 1
compare "scaling: cycles/packet 2 / 1" - 0 -- \
    cycles "${feth[@]}" --rxq 2 --cores 2 -- cycles "${feth[@]}" --rxq 1 --cores 1
echo "logs: $log_dir"
