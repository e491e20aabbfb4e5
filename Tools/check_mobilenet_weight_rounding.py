#!/usr/bin/env python3
"""Independent check, in PyTorch, of what 8-bit per-channel weight rounding alone costs
MobileNetV2 (the claim in Reports/cnn-mobilenet_v2-w8a8.md): fold the batch norms, round
every conv / linear weight per output channel (symmetric, min-max, -127..127), and compare
softmax KL and top-1 agreement with fp32 on ten-crop views of a folder of photos.

Not used by the product or the tests. Requires torch, torchvision and pillow.
Usage: check_mobilenet_weight_rounding.py MOBILENET_V2.pth PHOTO_DIR
(photos: Tools/split-images.sh evaluation DIR)
"""
import copy
import glob
import sys

import torch
import torchvision
from PIL import Image
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torchvision import transforms


def folded(model):
    model = copy.deepcopy(model)
    for module in model.modules():
        children = list(module.named_children())
        for (name, conv), (bn_name, bn) in zip(children, children[1:]):
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                setattr(module, name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, torch.nn.Identity())
    return model


def rounded(model, bits=8, only=None):
    model = copy.deepcopy(model)
    top = 2 ** (bits - 1) - 1
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)) and (only is None or name == only):
            weight = module.weight.data
            scale = weight.abs().flatten(1).max(1)[0].clamp(min=1e-12) / top
            scale = scale.view(-1, *([1] * (weight.dim() - 1)))
            module.weight.data = torch.round(weight / scale).clamp(-top, top) * scale
    return model


def main():
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(sys.argv[1], weights_only=True))
    model.eval()
    normalize = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    views = []
    for path in sorted(glob.glob(sys.argv[2] + "/*")):
        image = transforms.Resize(256)(Image.open(path).convert("RGB"))
        views += [normalize(crop) for crop in transforms.TenCrop(224)(image)]
    x = torch.stack(views)
    with torch.no_grad():
        reference = model(x)

        def compare(candidate):
            p, q = reference.log_softmax(1), candidate(x).log_softmax(1)
            kl = (p.exp() * (p - q)).sum(1).mean().item()
            top1 = (q.argmax(1) == p.argmax(1)).float().mean().item()
            return f"KL {kl:.4f}, top-1 agreement {100 * top1:.1f}%"

        fold = folded(model)
        print(f"{len(views)} views")
        print("BN folded, float:           ", compare(fold))
        print("8-bit per-channel, all:     ", compare(rounded(fold)))
        print("16-bit per-channel, all:    ", compare(rounded(fold, 16)))
        print("8-bit, features.1.conv.0.0: ", compare(rounded(fold, 8, "features.1.conv.0.0")))


if __name__ == "__main__":
    main()
