#!/usr/bin/env bash
# The CI quality gate: calibrate -> export -> eval -> compare on the real MiniLM, W8A16
# per-channel (fast enough for CI), against the committed baseline report. Quality only:
# speed is never gated here (`make bench` measures speed).
# Usage: Tools/quality-gate.sh BINARY MODEL_FOLDER [--write-baseline]
set -euo pipefail
binary="$1"
model="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
baseline="$here/Reports/baseline-w8a16.json"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$binary" calibrate --model "$model" --prompts "$here/Calibration/text/calibration.txt" \
    --weights int8 --activations int16 --granularity per-channel --num-samples 64 --output "$scratch/calibration"
"$binary" export --calibration "$scratch/calibration" --output "$scratch/model"
"$binary" eval --reference "$model" --candidate "$scratch/model" --input "$here/Calibration/text/heldout.txt" \
    --num-samples 200 --no-speed --report "$scratch/report.json" > /dev/null
if [[ "${3:-}" == "--write-baseline" ]]; then
    # Paths in the baseline are made machine-independent.
    sed -e "s#$model#MODEL#g" -e "s#$scratch#SCRATCH#g" -e "s#$here/##g" "$scratch/report.json" > "$baseline"
    echo "wrote $baseline"
    exit 0
fi
"$binary" compare "$baseline" "$scratch/report.json" --max-cosine-drop 0.0002
