#!/usr/bin/env bash
# Builds the libFuzzer targets (Linux, clang's libFuzzer via `--sanitize=fuzzer`) and runs
# each for FUZZ_SECONDS (default 60), starting from the seed corpus in seeds/<target>.
# Prints the number of runs each target survived; a crash stops the script with its input.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
swift build -c debug --sanitize=fuzzer
bin="$(swift build -c debug --sanitize=fuzzer --show-bin-path)"
for target in FuzzSafetensorsHeader FuzzPickle; do
    corpus="corpus-$target"
    mkdir -p "$corpus"
    log="$(mktemp)"
    echo "fuzzing $target for ${seconds}s"
    if ! "$bin/$target" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
            "$corpus" "seeds/$target" >"$log" 2>&1; then
        tail -40 "$log"
        echo "$target: FAILED (crash input saved by libFuzzer in $(pwd))"
        exit 1
    fi
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')"
    echo "$target: survived $runs runs in ${seconds}s"
    rm -f "$log"
done
