"""Full-size torchvision CNNs for the static-int8 speed bench (bench/quant-speed.ts): width 1.0,
exported at 1x3x224x224 with a dynamic batch dimension, opset 17, random weights (seed 0) with
BatchNorm running statistics taken from the calibration images (eval mode at export), and the
calibration images themselves. Nothing here is committed: the files are 10-45 MB each.

  /usr/bin/python3 bench/export-speed-corpus.py OUT_DIR [N_IMAGES=200]

writes OUT_DIR/<name>.onnx for mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large, resnet18,
shufflenet_v2_x1_0, efficientnet_b0, and OUT_DIR/images224.npy: N_IMAGES images 3x224x224 of
smooth noise in [0, 1] (low-frequency noise upsampled, plus a little fine noise), standardized
with ImageNet's mean/std as torchvision models expect; OUT_DIR/ocr48x192.npy and ocr48x320.npy: the
same at PaddleOCR's cls and rec input sizes, normalized as PaddleOCR does ((x - 0.5) / 0.5), for the
OCR models npm packages ship. MODELS=a,b exports only those. Needs torch 1.13 / torchvision 0.14
(Debian's python3-torch, python3-torchvision).
"""
import io
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn
import torchvision.models as tvm

MODELS = {
    'mobilenet_v2': lambda: tvm.mobilenet_v2(),
    'mobilenet_v3_small': lambda: tvm.mobilenet_v3_small(),
    'mobilenet_v3_large': lambda: tvm.mobilenet_v3_large(),
    'resnet18': lambda: tvm.resnet18(),
    'shufflenet_v2_x1_0': lambda: tvm.shufflenet_v2_x1_0(),
    'efficientnet_b0': lambda: tvm.efficientnet_b0(),
}


def smooth_images(n, seed, h=224, w=224, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, max(2, h // 16), max(2, w // 16), generator=g)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode='bilinear', align_corners=False)
    img = (img + 0.1 * torch.rand(n, 3, h, w, generator=g)).clamp(0, 1)
    return ((img - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).float()


def warm_bn(model, x):
    """BatchNorm running statistics from x (not the (0, 1) defaults, which random weights make explode)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for i in range(0, x.shape[0], 16):
            model(x[i:i + 16])
    model.eval()


def main():
    if len(sys.argv) < 2:
        sys.exit('usage: python3 bench/export-speed-corpus.py OUT_DIR [N_IMAGES]')
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    images = smooth_images(n, seed=1)
    np.save(os.path.join(out, 'images224.npy'), images.numpy())
    # PaddleOCR's cls (3x48x192) and rec (3x48x320) inputs, normalized as PaddleOCR does: (x - 0.5) / 0.5.
    for h, w in ((48, 192), (48, 320)):
        np.save(os.path.join(out, f'ocr{h}x{w}.npy'), smooth_images(n, seed=2, h=h, w=w, mean=(0.5,) * 3, std=(0.5,) * 3).numpy())
    only = set(os.environ.get('MODELS', '').split(',')) - {''}
    for name, build in MODELS.items():
        if only and name not in only:
            continue
        torch.manual_seed(0)
        model = build()
        warm_bn(model, images[:64])
        buf = io.BytesIO()
        torch.onnx.export(model, images[:1], buf, input_names=['input'], output_names=['logits'],
                          dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}},
                          opset_version=17, do_constant_folding=True)
        # Debian's libonnx leaves an empty `onnx` namespace without python3-onnx: check when the package is there.
        if hasattr(onnx, 'checker'):
            onnx.checker.check_model(onnx.load_from_string(buf.getvalue()))
        path = os.path.join(out, f'{name}.onnx')
        with open(path + '.tmp', 'wb') as f:
            f.write(buf.getvalue())
        os.replace(path + '.tmp', path)
        print(f'{path}: {len(buf.getvalue()) / 1e6:.1f} MB', flush=True)


if __name__ == '__main__':
    main()
