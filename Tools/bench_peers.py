#!/usr/bin/env python3
"""Peer engines for `make bench`: MiniLM through onnxruntime (fp32 and dynamic int8) and torch.

Requires (pinned, installed by `make bench` into its own venv):
  torch==2.5.1 transformers==4.46.3 onnxruntime==1.20.1 onnx==1.17.0 numpy
Uses the same token ids as aimet-swift-bench
(ids: [CLS]=101, then 1000 + (row*7919 + position*104729) % 20000, then [SEP]=102) and
times the encoder forward pass plus mean pooling and normalisation.

The dynamic int8 model is onnxruntime.quantization.quantize_dynamic (int8 weights, uint8
activations quantized per tensor at run time) applied to the fp32 export: the same graph.

Usage: bench_peers.py --serve MODEL_FOLDER THREADS
aimet-swift-bench starts this script and drives it, so that every engine is timed in the
same interleaved rounds. Protocol (one JSON object per line): the script first writes
{"engines": [...], "versions": {...}}; then for every request {"batch", "sequence",
"iterations", "warmup"} read from stdin it writes {"results": [{"engine", "seconds": [...]}]}.
It exits when stdin closes. Everything else goes to stderr.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnxruntime
import torch
import transformers
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModel


def token_ids(batch: int, sequence: int) -> np.ndarray:
    ids = np.zeros((batch, sequence), dtype=np.int64)
    for row in range(batch):
        ids[row, 0] = 101
        for position in range(1, sequence - 1):
            ids[row, position] = 1000 + (row * 7919 + position * 104729) % 20000
        ids[row, sequence - 1] = 102
    return ids


class Embedder(torch.nn.Module):
    """Encoder + masked mean pooling + L2 normalisation (what sentence-transformers runs)."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids, attention_mask, token_type_ids):
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)


def timed(run, iterations: int, warmup: int) -> list:
    for _ in range(warmup):
        run()
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def session(path: str, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def build_engines(model_folder: str, threads: int) -> dict:
    """Name → function(ids, mask, types) running one forward pass."""
    torch.set_num_threads(threads)
    model = Embedder(AutoModel.from_pretrained(model_folder)).eval()
    folder = tempfile.mkdtemp()
    fp32_path, int8_path = os.path.join(folder, "minilm.onnx"), os.path.join(folder, "minilm-int8.onnx")
    example = torch.from_numpy(token_ids(1, 16))
    with torch.no_grad():
        torch.onnx.export(
            model, (example, torch.ones_like(example), torch.zeros_like(example)), fp32_path,
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ["input_ids", "attention_mask", "token_type_ids"]},
            opset_version=17)
    quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
    version = onnxruntime.__version__
    engines = {}
    for name, path in [(f"onnxruntime {version} fp32", fp32_path), (f"onnxruntime {version} dynamic int8", int8_path)]:
        runner = session(path, threads)
        engines[name] = lambda ids, mask, types, runner=runner: runner.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})

    def run_torch(ids, mask, types):
        with torch.inference_mode():
            model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(types))

    engines[f"torch {torch.__version__.split('+')[0]} fp32"] = run_torch
    return engines


def serve(model_folder: str, threads: int) -> None:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints of the libraries go to stderr
    engines = build_engines(model_folder, threads)
    versions = {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                "transformers": transformers.__version__, "numpy": np.__version__}
    protocol.write(json.dumps({"engines": list(engines), "versions": versions}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        ids = token_ids(int(request["batch"]), int(request["sequence"]))
        mask, types = np.ones_like(ids), np.zeros_like(ids)
        results = [{"engine": name, "seconds": timed(lambda run=run: run(ids, mask, types), int(request["iterations"]),
                                                     int(request.get("warmup", 0)))}
                   for name, run in engines.items()]
        protocol.write(json.dumps({"results": results}) + "\n")
        protocol.flush()


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] != "--serve":
        sys.exit("usage: bench_peers.py --serve MODEL_FOLDER THREADS")
    serve(sys.argv[2], int(sys.argv[3]))


if __name__ == "__main__":
    main()
