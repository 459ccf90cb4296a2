#!/usr/bin/env bash
# Runs the ring and pool criterion benchmarks RUNS times (default 3) and prints, per benchmark, the ns per
# element of each run and their median, plus each peer's ratio to the pktloop case it is compared with.
# When DPDK's dpdk-test is installed, each run also measures rte_ring on the same two cores (see dpdk_ring).
# With python3 it also prints each benchmark's fastest criterion sample (the least disturbed figure).
#
#   scripts/bench.sh [RUNS] [FILTER]      e.g. scripts/bench.sh 5 producer_consumer
#   scripts/bench.sh path [RUNS] [FILTER] the packet-path targets against floors and peers, interleaved
#   scripts/bench.sh tap [RUNS] [FILTER]  TAP frames per second each way against DPDK's net_tap, interleaved
#   scripts/bench.sh wire [RUNS] [FILTER] AF_PACKET and AF_XDP over a veth pair against DPDK's drivers
#   scripts/bench.sh gen [RUNS] [FILTER]  the generator: pacing cost, size mixes and flows, scaling over cores
#   scripts/bench.sh shm [RUNS] [FILTER]  two processes over shared memory against DPDK's memif and feth
#   scripts/bench.sh instructions [FILTER]  instructions per packet of the packet paths (callgrind, one core)
#
# The criterion output of each run is kept under $CARGO_TARGET_DIR/bench-logs/ (or target/bench-logs/).
# On a shared machine the script waits (up to BENCH_QUIET_WAIT seconds, default 120) before each run until
# the CPUs were less than 10% busy over a second, and prints how busy they were. It only reads
# /proc/stat; it never stops anything.
set -euo pipefail

# `scripts/bench.sh path [RUNS] [FILTER]`: the packet-path targets, interleaved (scripts/bench-path.sh).
if [ "${1:-}" = path ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-path.sh" "$@"
fi
if [ "${1:-}" = instructions ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-instructions.sh" "$@"
fi
if [ "${1:-}" = tap ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-tap.sh" "$@"
fi
if [ "${1:-}" = gen ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-gen.sh" "$@"
fi
if [ "${1:-}" = shm ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-shm.sh" "$@"
fi
if [ "${1:-}" = wire ]; then
    shift
    exec "$(dirname "${BASH_SOURCE[0]}")/bench-wire.sh" "$@"
fi

runs="${1:-3}"
filter="${2:-}"
quiet_wait="${BENCH_QUIET_WAIT:-120}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log_dir="${CARGO_TARGET_DIR:-$root/target}/bench-logs/$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$log_dir"

# Percent of the last second the CPUs spent busy (from /proc/stat), 0..100.
busy_percent() {
    local a b
    read -r _ a1 a2 a3 a4 a5 a6 a7 _ </proc/stat
    a=$((a1 + a2 + a3 + a5 + a6 + a7))
    local idle_a=$a4
    sleep 1
    read -r _ b1 b2 b3 b4 b5 b6 b7 _ </proc/stat
    b=$((b1 + b2 + b3 + b5 + b6 + b7))
    local busy=$((b - a)) idle=$((b4 - idle_a))
    echo $((100 * busy / (busy + idle + 1)))
}

# Waits until the machine is nearly idle (other builds and tests finished), at most $quiet_wait seconds.
wait_quiet() {
    local waited=0 busy
    busy="$(busy_percent)"
    while [ "$busy" -gt 10 ] && [ "$waited" -lt "$quiet_wait" ]; do
        sleep 1
        waited=$((waited + 2))
        busy="$(busy_percent)"
    done
    echo "$busy"
}

# DPDK's rte_ring as one more ring peer, when its test binary is installed (Debian: apt-get install
# dpdk-dev): ring_perf_autotest's "two physical cores, SP/SC bulk 32" figure (pointers, 8 bytes, cores 0
# and 1, no hugepages needed), converted from TSC cycles to ns. Prints one "name run ns" line, or nothing.
dpdk_ring() {
    local run="$1" out khz cycles
    command -v dpdk-test >/dev/null 2>&1 || return 0
    out="$(DPDK_TEST=ring_perf_autotest timeout 120 dpdk-test --no-huge -m 512 -l 0-1 --no-pci \
        --log-level=lib.eal:debug 2>&1)" || return 0
    khz="$(sed -n 's/.*TSC frequency is ~\([0-9]*\) KHz.*/\1/p' <<<"$out" | head -n 1)"
    cycles="$(grep -A 4 'two physical cores' <<<"$out" | grep -m 1 'legacy APIs: SP/SC: bulk (size: 32)' |
        awk '{ print $NF }')"
    if [ -n "$khz" ] && [ -n "$cycles" ]; then
        awk -v c="$cycles" -v k="$khz" -v r="$run" \
            'BEGIN { printf "ring_cross_core_u64_burst32/dpdk/rte_ring_sp_sc_bulk %s %.3f\n", r, c / (k / 1e6) }'
    fi
}

# The fastest criterion sample of each benchmark measured since epoch second $1, in ns per element: "name ns"
# lines. On a
# shared machine other jobs only ever slow a sample down, so the best one is the least disturbed.
best_samples() {
    command -v python3 >/dev/null 2>&1 || return 0
    python3 - "${CARGO_TARGET_DIR:-$root/target}/criterion" "$1" <<'PY'
import glob, json, os, sys
for f in sorted(glob.glob(os.path.join(sys.argv[1], "**", "new", "sample.json"), recursive=True)):
    if os.path.getmtime(f) < float(sys.argv[2]):
        continue  # not measured in this run
    bench = json.load(open(f.replace("sample.json", "benchmark.json")))
    samples = json.load(open(f))
    elements = (bench.get("throughput") or {}).get("Elements", 1)
    best = min(t / i for t, i in zip(samples["times"], samples["iters"])) / elements
    print(bench["full_id"], "%.3f" % best)
PY
}

cd "$root"
cargo bench -p pktloop-benches --bench ring --bench pool --no-run >/dev/null 2>&1 ||
    cargo bench -p pktloop-benches --bench ring --bench pool --no-run

for run in $(seq 1 "$runs"); do
    busy="$(wait_quiet)"
    echo "run $run/$runs: $(date -u +%H:%M:%S) UTC, CPUs ${busy}% busy just before, load average" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
    start="$(date +%s)"
    # shellcheck disable=SC2086 # an empty filter must vanish
    cargo bench -p pktloop-benches --bench ring --bench pool -- $filter >"$log_dir/run$run.txt" 2>&1
    best_samples "$start" >"$log_dir/best$run.txt"
    dpdk_id="ring_cross_core_u64_burst32/dpdk"
    if [[ "$dpdk_id" == *"$filter"* ]]; then
        dpdk_ring "$run" >"$log_dir/dpdk$run.txt"
        awk '{ print $1, $3 }' "$log_dir/dpdk$run.txt" >>"$log_dir/best$run.txt"
    fi
done

# Criterion prints the benchmark id on its own line (or before "time:"), then "thrpt: [low est high]".
# Throughput is per element, so ns per element = 1000 / (M elements/s).
for run in $(seq 1 "$runs"); do
    awk -v run="$run" '
        /^[a-z_0-9]+\/[^ ]+/ { name = $1 }
        /thrpt:/ {
            est = $4; unit = $5
            f = (unit ~ /^Gelem/) ? 1000 : (unit ~ /^Kelem/) ? 0.001 : (unit ~ /^elem/) ? 0.000001 : 1
            if (name != "" && !(name in seen)) { printf "%s %s %.3f\n", name, run, 1000 / (est * f); seen[name] = 1 }
        }' "$log_dir/run$run.txt"
    cat "$log_dir/dpdk$run.txt" 2>/dev/null || true
done >"$log_dir/all.txt"

echo
printf '%-62s %s\n' "benchmark (ns per element; runs..., median)" ""
awk '
    { v[$1] = v[$1] " " $3; n[$1]++; order[$1] = (order[$1] == "" ? NR : order[$1]) }
    END { for (k in v) print order[k], k, v[k] }' "$log_dir/all.txt" | sort -n | cut -d' ' -f2- |
    while read -r name values; do
        # shellcheck disable=SC2086 # split the values on purpose
        median="$(printf '%s\n' $values | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')"
        printf '%-62s %s  | median %s\n' "$name" "$values" "$median"
        echo "$name $median" >>"$log_dir/medians.txt"
    done

if [ -s "$log_dir/best1.txt" ]; then
    echo
    echo "best sample per benchmark (ns per element; runs..., best of all): the least disturbed figure"
    cat "$log_dir"/best*.txt | awk '
        { v[$1] = v[$1] " " $2; if (!($1 in b) || $2 < b[$1]) b[$1] = $2; if (!($1 in o)) o[$1] = NR }
        END { for (k in v) printf "%d %-62s%s  | best %s\n", o[k], k, v[k], b[k] }' | sort -n | cut -d' ' -f2-
fi
echo "full criterion output: $log_dir"

# Ratios: each benchmark against the first pktloop entry of its group (>1: slower than pktloop).
echo
awk '
    { split($1, p, "/"); g = p[1]; if (!(g in base) && $1 ~ /pktloop/) base[g] = $2; m[NR] = $1; val[NR] = $2; grp[NR] = g }
    END { for (i = 1; i <= NR; i++) if (grp[i] in base) printf "%-62s %.2fx the time of %s first pktloop case\n", m[i], val[i] / base[grp[i]], grp[i] }
' "$log_dir/medians.txt"
