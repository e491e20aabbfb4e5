#!/usr/bin/env bash
# The compressed-model format is a public contract: export MiniLM with 4-bit symmetric
# blocks and with 8-bit asymmetric channels, then have the numpy reference reader
# (Tools/read_compressed.py, written from the documentation) dequantize every tensor and
# compare it bit for bit with aimet-swift's own dequantization (`convert`).
# Usage: Tools/check-compressed-format.sh BINARY PYTHON MODEL_FOLDER
set -euo pipefail
binary="$1"; python="$2"; model="$3"
here="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
passed=0; failed=0
for variant in "w4 --weights int4 --granularity per-block:32" "w8asym --weights int8 --asymmetric --granularity per-channel"; do
    name="${variant%% *}"; options="${variant#* }"
    # shellcheck disable=SC2086
    "$binary" calibrate --model "$model" --prompts "$here/Calibration/text/calibration.txt" --num-samples 2 \
        --activations float $options --output "$scratch/$name-calibration" > /dev/null
    "$binary" export --calibration "$scratch/$name-calibration" --output "$scratch/$name" > /dev/null
    "$binary" convert "$scratch/$name" "$scratch/$name-dequantized.safetensors" > /dev/null
    if "$python" "$here/Tools/read_compressed.py" "$scratch/$name" "$scratch/$name-dequantized.safetensors"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "compressed format checks: $passed passed, $failed failed"
[[ $failed == 0 ]]
