#!/usr/bin/env python3
"""Checks a safetensors file written by `aimet-swift convert` against a golden JSON.

Reads the file with the Python `safetensors` package (pinned: safetensors==0.4.5,
numpy) and checks that every tensor of the golden is present with the same dtype and
shape and that the sha256 of its values cast to little-endian float32 matches.
Usage: verify_converted.py CONVERTED.safetensors GOLDEN.json
Prints one line per file and exits non-zero on any mismatch.
"""
import hashlib
import json
import sys

import numpy as np
from safetensors import safe_open

NUMPY_TO_SAFETENSORS = {
    "float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}


def main() -> int:
    converted, golden_path = sys.argv[1], sys.argv[2]
    with open(golden_path, encoding="utf-8") as handle:
        golden = json.load(handle)
    problems = []
    with safe_open(converted, framework="numpy") as handle:
        names = list(handle.keys())
        expected_names = [entry["name"] for entry in golden["tensors"]]
        if sorted(names) != sorted(expected_names):
            missing = sorted(set(expected_names) - set(names))
            extra = sorted(set(names) - set(expected_names))
            problems.append(f"tensor names differ: missing {missing[:5]}, extra {extra[:5]}")
        for entry in golden["tensors"]:
            if entry["name"] not in names:
                continue
            array = handle.get_tensor(entry["name"])
            dtype = NUMPY_TO_SAFETENSORS.get(str(array.dtype), str(array.dtype))
            if dtype != entry["dtype"]:
                problems.append(f"{entry['name']}: dtype {dtype}, golden {entry['dtype']}")
            if list(array.shape) != entry["shape"]:
                problems.append(f"{entry['name']}: shape {list(array.shape)}, golden {entry['shape']}")
            digest = hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()
            if digest != entry["sha256_float32"]:
                problems.append(f"{entry['name']}: values differ from the golden")
    for problem in problems[:20]:
        print(f"  {converted}: {problem}")
    status = "ok" if not problems else f"FAILED ({len(problems)} problems)"
    print(f"verify {converted} against {golden_path}: {len(golden['tensors'])} tensors, {status}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
