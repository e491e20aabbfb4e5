#!/usr/bin/env python3
"""Peer timings for `make bench`: MiniLM fp32 through torch and onnxruntime.

Requires (pinned, installed by `make bench` into its own venv):
  torch==2.5.1 transformers==4.46.3 onnxruntime==1.20.1 onnx==1.17.0 numpy
Uses the same shapes, thread count and token ids as aimet-swift-bench
(ids: [CLS]=101, then 1000 + (row*7919 + position*104729) % 20000, then [SEP]=102),
times the encoder forward pass plus mean pooling and normalisation, and writes
{"results": [{"engine", "batch", "sequence", "seconds": [...]}], "versions": {...}}.
Usage: bench_peers.py MODEL_FOLDER OUT.json THREADS ITERATIONS
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
from transformers import AutoModel

SHAPES = [(1, 16), (1, 128), (32, 128)]


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


def timed(run, iterations: int, warmup: int = 2) -> list:
    for _ in range(warmup):
        run()
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    model_folder, output, threads, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    model = Embedder(AutoModel.from_pretrained(model_folder)).eval()
    onnx_path = os.path.join(tempfile.mkdtemp(), "minilm.onnx")
    example = token_ids(1, 16)
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.from_numpy(example), torch.ones_like(torch.from_numpy(example)),
                    torch.zeros_like(torch.from_numpy(example))),
            onnx_path, input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ["input_ids", "attention_mask", "token_type_ids"]},
            opset_version=17)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    results = []
    for batch, sequence in SHAPES:
        ids = token_ids(batch, sequence)
        mask = np.ones_like(ids)
        types = np.zeros_like(ids)
        count = iterations * 4 if batch * sequence <= 128 else iterations
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        results.append({"engine": f"onnxruntime {onnxruntime.__version__} fp32", "batch": batch, "sequence": sequence,
                        "seconds": timed(lambda: session.run(None, feeds), count)})
        tensors = [torch.from_numpy(array) for array in (ids, mask, types)]

        def run_torch():
            with torch.inference_mode():
                model(*tensors)

        results.append({"engine": f"torch {torch.__version__.split('+')[0]} fp32", "batch": batch, "sequence": sequence,
                        "seconds": timed(run_torch, count)})
        print(f"peers {batch}x{sequence} done", file=sys.stderr)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump({"results": results, "threads": threads,
                   "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
                                "transformers": transformers.__version__}}, handle, indent=1)


if __name__ == "__main__":
    main()
