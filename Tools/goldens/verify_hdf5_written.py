#!/usr/bin/env python3
"""Checks a file written by aimet-swift's HDF5Writer with an independent reader (h5py).

Needs:  pip install h5py==3.12.1 numpy

Usage:  python Tools/goldens/verify_hdf5_written.py FILE EXPECTED.json

EXPECTED.json: {"attributes": {name: string}, "tensors": [{"name", "dtype", "shape",
"sha256_raw", "sha256_float32"}]}; the writer tests leave one beside `roundtrip.h5` when
run as  AIMET_SWIFT_HDF5_SCRATCH=/tmp/hdf5-scratch swift test --filter HDF5WriterTests.

Checks: the file holds exactly the expected datasets (no others), each with the expected
dtype, shape, little-endian raw bytes (sha256_raw; BF16 is compared through its bit
pattern) and float32 values (sha256_float32); the root has exactly the expected string
attributes. Exits 1 with one line per problem, 0 when everything matches.
"""
import hashlib
import json
import sys

import h5py
import numpy as np

NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
                "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def bfloat16_bits(dataset):
    """BF16 has no numpy type: read the 16-bit words unchanged and check the HDF5 layout."""
    tid = dataset.id.get_type()
    fields = tid.get_fields()
    if tid.get_size() != 2 or tuple(fields) != (15, 7, 8, 0, 7) or tid.get_ebias() != 127:
        return None, f"not a bfloat16 layout: size {tid.get_size()}, fields {fields}, bias {tid.get_ebias()}"
    raw = np.empty(dataset.shape, dtype="<u2")
    if raw.size:
        dataset.id.read(h5py.h5s.ALL, h5py.h5s.ALL, raw, mtype=tid)
    return raw, None


def check(path, expected):
    problems = []
    with h5py.File(path, "r") as f:
        found = []
        f.visititems(lambda name, obj: found.append(name) if isinstance(obj, h5py.Dataset) else None)
        names = [entry["name"] for entry in expected["tensors"]]
        for extra in sorted(set(found) - set(names)):
            problems.append(f"unexpected dataset {extra}")
        for entry in expected["tensors"]:
            name = entry["name"]
            if name not in f or not isinstance(f[name], h5py.Dataset):
                problems.append(f"{name}: missing")
                continue
            dataset = f[name]
            if list(dataset.shape) != entry["shape"]:
                problems.append(f"{name}: shape {list(dataset.shape)} != {entry['shape']}")
                continue
            if entry["dtype"] == "BF16":
                bits, problem = bfloat16_bits(dataset)
                if problem:
                    problems.append(f"{name}: {problem}")
                    continue
                raw = bits.tobytes()
                values = (bits.astype("<u4") << 16).view("<f4")
            else:
                wanted = np.dtype(NUMPY_DTYPES[entry["dtype"]])
                if dataset.dtype.newbyteorder("<") != wanted.newbyteorder("<"):
                    problems.append(f"{name}: h5py dtype {dataset.dtype} != {wanted} ({entry['dtype']})")
                    continue
                data = np.ascontiguousarray(dataset[()], dtype=wanted)
                raw = data.tobytes()
                values = data.astype("<f4")
            if hashlib.sha256(raw).hexdigest() != entry["sha256_raw"]:
                problems.append(f"{name}: raw bytes differ")
            if hashlib.sha256(np.ascontiguousarray(values, dtype="<f4").tobytes()).hexdigest() != entry["sha256_float32"]:
                problems.append(f"{name}: float32 values differ")
        attributes = {}
        for key, value in f.attrs.items():
            attributes[key] = value.decode("utf-8") if isinstance(value, bytes) else value
        if attributes != expected["attributes"]:
            problems.append(f"root attributes {attributes} != {expected['attributes']}")
    return problems


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    with open(sys.argv[2]) as handle:
        expected = json.load(handle)
    problems = check(sys.argv[1], expected)
    for problem in problems:
        print(problem)
    print(f"{sys.argv[1]}: {len(expected['tensors'])} tensors, "
          + ("OK" if not problems else f"{len(problems)} problem(s)"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
