#!/usr/bin/env python3
"""Reference reader of the aimet-swift compressed-model format (version 1), in numpy.

The format is a public contract (see the README and the design doc); this script reads it
from the documentation alone and dequantizes every tensor: x = (q - zero_point) * scale.
  T.qdata       I8 (8-bit symmetric), U8 (8-bit asymmetric, or two 4-bit values a byte,
                the even column in the low nibble, signed two's complement when symmetric),
                I8 also for 4-bit values whose last axis is odd (one value a byte),
                I16/I32 (16-bit)
  T.scale       F32, shape [] / [rows] / [rows, cols / block]
  T.zero_point  I32, same shape as T.scale, only when asymmetric
  __metadata__  format = aimet-swift.compressed, format_version = 1, tensor_bits (JSON)
Requires: numpy, safetensors==0.4.5.
Usage: read_compressed.py MODEL_FOLDER DEQUANTIZED.safetensors
  Checks that every tensor of DEQUANTIZED (written by `aimet-swift convert MODEL_FOLDER ...`)
  equals this reader's dequantization bit for bit; exits non-zero otherwise.
"""
import json
import os
import sys

import numpy as np
from safetensors import safe_open


def unpack_int4(packed: np.ndarray, signed: bool) -> np.ndarray:
    low = (packed & 0x0F).astype(np.int32)
    high = (packed >> 4).astype(np.int32)
    if signed:
        low = np.where(low >= 8, low - 16, low)
        high = np.where(high >= 8, high - 16, high)
    values = np.empty(packed.shape[:-1] + (packed.shape[-1] * 2,), dtype=np.int32)
    values[..., 0::2] = low
    values[..., 1::2] = high
    return values


def expand(groups: np.ndarray, shape: tuple) -> np.ndarray:
    """Broadcasts per-tensor / per-channel / per-block parameters to the tensor's shape."""
    if groups.ndim == 0:
        return np.full(shape, groups, dtype=groups.dtype)
    if groups.ndim == 1:
        return np.broadcast_to(groups.reshape((shape[0],) + (1,) * (len(shape) - 1)), shape)
    block = shape[1] // groups.shape[1]
    return np.repeat(groups, block, axis=1)


def dequantize(handle, name: str, bits: int) -> np.ndarray:
    data = handle.get_tensor(name + ".qdata")
    scale = handle.get_tensor(name + ".scale").astype(np.float32)
    keys = set(handle.keys())
    zero = handle.get_tensor(name + ".zero_point").astype(np.int32) if name + ".zero_point" in keys else None
    if bits == 4 and data.dtype == np.uint8:
        values = unpack_int4(data, signed=zero is None)
    else:
        values = data.astype(np.int32)
    zeros = expand(zero, values.shape) if zero is not None else 0
    return ((values - zeros).astype(np.float32) * expand(scale, values.shape)).astype(np.float32)


def main() -> int:
    folder, dequantized_path = sys.argv[1], sys.argv[2]
    problems = []
    with safe_open(os.path.join(folder, "model.safetensors"), framework="numpy") as handle:
        metadata = handle.metadata()
        assert metadata["format"] == "aimet-swift.compressed", metadata.get("format")
        assert metadata["format_version"] == "1", metadata.get("format_version")
        bits = json.loads(metadata["tensor_bits"])
        with safe_open(dequantized_path, framework="numpy") as reference:
            for name, width in sorted(bits.items()):
                mine = dequantize(handle, name, width)
                theirs = reference.get_tensor(name)
                if mine.shape != theirs.shape or not np.array_equal(mine.view(np.uint32), theirs.view(np.uint32)):
                    problems.append(name)
    status = "ok" if not problems else f"FAILED: {problems[:5]}"
    print(f"compressed-format reference reader on {folder}: {len(bits)} quantized tensors, {status}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
