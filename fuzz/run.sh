#!/usr/bin/env bash
# Runs each harness (or those named) for FUZZ_SECONDS (default 60) seconds, one at a time,
# starting from the committed seed corpus fuzz/corpus/<name>. Inputs the fuzzer finds go to
# .build/fuzz/work/<name> (not the committed corpus); a crash is saved under
# .build/fuzz/artifacts/<name>/ and makes the script fail. Prints each run's final stats.
#   FUZZ_SECONDS=600 fuzz/run.sh            every harness, 10 minutes each
#   fuzz/run.sh scram config                two of them
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${FUZZ_BUILD_DIR:-$root/.build/fuzz}
seconds=${FUZZ_SECONDS:-60}
want=("$@")
[[ ${#want[@]} -gt 0 ]] || want=(frontend backend startup scram config sql)
failed=()
total=0
for h in "${want[@]}"; do
    [[ -x $bin/$h ]] || { echo "fuzz/run.sh: $bin/$h is not built (fuzz/build.sh)" >&2; exit 2; }
    work=$bin/work/$h artifacts=$bin/artifacts/$h
    mkdir -p "$work" "$artifacts"
    dict=()
    [[ -f fuzz/$h/$h.dict ]] && dict=(-dict="fuzz/$h/$h.dict")
    log=$bin/$h.log
    echo "fuzz/run.sh: $h for ${seconds}s (log $log)" >&2
    "$bin/$h" -max_total_time="$seconds" -workers=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${dict[@]}" "$work" "fuzz/corpus/$h" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    total=$((total + ${runs:-0}))
    grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" "$log" \
        | sed "s/^/  $h: /"
    if (( rc != 0 )); then
        failed+=("$h")
        grep -E "ERROR|Fatal error|SUMMARY|Test unit written" "$log" | head -5 | sed "s/^/  $h: /"
    fi
done
echo "fuzz/run.sh: $total inputs executed in all" >&2
if (( ${#failed[@]} > 0 )); then
    echo "fuzz/run.sh: crashes in ${failed[*]} (inputs under $bin/artifacts/)" >&2
    exit 1
fi
echo "fuzz/run.sh: no crashes" >&2
