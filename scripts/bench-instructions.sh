#!/usr/bin/env bash
# Instructions per packet of the packet paths, counted exactly by callgrind with both ends on one core
# (benches/src/bin/onecore.rs): a figure that does not move with the machine's placement, as times do, so
# two commits compare in one run each. Each scenario runs for two round counts; the difference in
# instructions over the difference in packets leaves setup out. What it cannot see: cache-line transfers
# between cores, which bound most two-core paths (a change that saves instructions may move no packets).
# The program sees valgrind's CPUID, not the host's: paths that depend on a CPU feature (PREFETCHW,
# CLDEMOTE) are counted as they run on the CPU valgrind describes. The shm pair's control thread wakes
# every 20 ms and is counted too (well under 0.1 instructions per packet).
#
#   scripts/bench-instructions.sh [FILTER]      e.g. scripts/bench-instructions.sh txonly64
#
# Needs valgrind (installed with apt-get when missing and run as root).
set -euo pipefail

filter="${1:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cd "$root"
if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "valgrind is required (apt-get install valgrind)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q valgrind >/dev/null
fi
cargo build --release -q -p pktloop-benches --bin onecore
onecore="$target/release/onecore"

# instructions SCENARIO SIDE ROUNDS: "INSTRUCTIONS PACKETS" of one run under callgrind.
instructions() {
    local out
    out="$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$onecore" "$@" 2>&1)"
    local refs packets
    refs="$(sed -n 's/.*I *refs: *//p' <<<"$out" | tr -d ,)"
    packets="$(awk -v s="$1" '$1 == s { print $3 }' <<<"$out")"
    [ -n "$refs" ] && [ -n "$packets" ] || { echo "onecore $* failed:" >&2; echo "$out" >&2; exit 1; }
    echo "$refs $packets"
}

# per_packet SCENARIO SIDE ROUNDS: instructions per packet between ROUNDS and 3 x ROUNDS rounds.
per_packet() {
    local name="$1 $2"
    if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then return; fi
    local short long
    short=($(instructions "$1" "$2" "$3"))
    long=($(instructions "$1" "$2" $(($3 * 3))))
    awk -v n="$name" -v i1="${short[0]}" -v p1="${short[1]}" -v i2="${long[0]}" -v p2="${long[1]}" \
        'BEGIN { printf "%-20s %8.1f instructions per packet\n", n, (i2 - i1) / (p2 - p1) }'
}

echo "instructions per packet, both ends on one core (callgrind; setup left out)"
per_packet txonly64 global 2000
per_packet txonly64 private 2000
per_packet txonly64 split 2000
per_packet txonly64 shm 2000
per_packet pingpong feth 20000
per_packet pingpong shm 20000
