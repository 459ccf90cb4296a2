# Sourced by the benchmark scripts: `bench_dirs` sets up where they run and log, `compare` runs two sides of
# a comparison interleaved and summarises. The caller defines `measure SIDE...` (prints one number), and
# sets `runs` and `filter`.

# bench_dirs NAME: sets `root` (the repository), `target` (the cargo target directory) and `log_dir`
# (target/bench-logs/NAME-<time>, made), and moves to the repository.
bench_dirs() {
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    target="${CARGO_TARGET_DIR:-$root/target}"
    log_dir="$target/bench-logs/$1-$(date -u +%Y%m%dT%H%M%S)"
    mkdir -p "$log_dir"
    cd "$root"
}
#
# compare NAME TARGET HIGHER_IS_BETTER -- SIDE_A... -- SIDE_B...
# Runs A and B interleaved (A B, B A, A B, ...); prints best A, best B, ratio of bests and the median pairwise ratio, and whether
# the ratio of bests meets TARGET (A/B >= TARGET when higher is better, <= when lower is better; - for none).
compare() {
    local name="$1" target="$2" higher="$3"
    shift 4
    local a=() b=()
    while [ "$1" != "--" ]; do a+=("$1"); shift; done
    shift
    b=("$@")
    if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then return; fi
    local va=() vb=()
    for i in $(seq 1 "$runs"); do
        # A B, then B A: whichever side runs first in a pair does not always get the same placement.
        if [ $((i % 2)) -eq 1 ]; then
            va+=("$(measure "${a[@]}")")
            vb+=("$(measure "${b[@]}")")
        else
            vb+=("$(measure "${b[@]}")")
            va+=("$(measure "${a[@]}")")
        fi
        echo "$name run $i: ${va[-1]} ${vb[-1]}" >>"$log_dir/runs.txt"
    done
    python3 - "$name" "$target" "$higher" "${va[*]}" "${vb[*]}" <<'PY' | tee -a "$log_dir/summary.txt"
import statistics, sys
name, target, higher = sys.argv[1], (None if sys.argv[2] == "-" else float(sys.argv[2])), sys.argv[3] == "1"
a = [float(x) for x in sys.argv[4].split() if x]
b = [float(x) for x in sys.argv[5].split() if x]
if not a or not b or len(a) != len(b):
    print(f"{name:34} no figures (a side failed or is not installed)")
    sys.exit()
best_a, best_b = (max(a), max(b)) if higher else (min(a), min(b))
ratio = best_a / best_b
median = statistics.median(x / y for x, y in zip(a, b))
sign = ">=" if higher else "<="
if target is None:
    verdict = "no target"
else:
    met = ratio >= target if higher else ratio <= target
    verdict = f"target {sign} {target}: {'met' if met else 'NOT met'}"
print(f"{name:34} best {best_a:9.2f} vs {best_b:9.2f}  ratio {ratio:5.2f} (median pairwise {median:5.2f})  "
      f"{verdict}   runs A {a} B {b}")
PY
}

