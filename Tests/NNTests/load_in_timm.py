#!/usr/bin/env python3
"""Loads a ViT checkpoint of this project into timm's own VisionTransformer and measures its test
accuracy there: the cross-check that our parameter names, layouts and numerics are timm's.

    pip install torch timm safetensors numpy
    python3 Tests/NNTests/load_in_timm.py .cache/teachers/vit-default-seed0-*.safetensors \\
        --patch 7 --width 128 --depth 6 --heads 4
    python3 Tests/NNTests/load_in_timm.py .cache/students/deit-token-convnet-default-seed0-*.safetensors \\
        --distilled --patch 7 --width 64 --depth 4 --heads 2

On 2026-11-23 the default-scale ViT teacher (seed 0) scored 89.65 % in timm, as in `supervised`, and
the DeiT⚗ student of `distillation` (seed 0) 85.29 % in timm's VisionTransformerDistilled, whose
evaluation averages the two heads' logits — the "fused logits" accuracy `distillation` reports.
"""
import argparse, gzip, os
import numpy as np, torch
from safetensors.torch import load_file
from timm.models.vision_transformer import VisionTransformer
from timm.models.deit import VisionTransformerDistilled

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("checkpoint")
ap.add_argument("--patch", type=int, default=7)
ap.add_argument("--width", type=int, default=128)
ap.add_argument("--depth", type=int, default=6)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--distilled", action="store_true", help="a DeiT⚗ checkpoint (cls_token, dist_token, head, head_dist)")
ap.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
args = ap.parse_args()

model = (VisionTransformerDistilled if args.distilled else VisionTransformer)(img_size=28, patch_size=args.patch, in_chans=1, num_classes=10,
                          embed_dim=args.width, depth=args.depth, num_heads=args.heads)
model.load_state_dict(load_file(args.checkpoint), strict=True)  # every name and shape must match
model.eval()

def idx(name, offset):
    return np.frombuffer(gzip.open(os.path.join(args.data, name)).read()[offset:], np.uint8)
train = idx("train-images-idx3-ubyte.gz", 16) / 255.0
mean, std = train.mean(), train.std()  # the training set's statistics, as the Swift loader uses
x = torch.tensor((idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28) / 255.0 - mean) / std, dtype=torch.float32)
y = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8), dtype=torch.long)
with torch.no_grad():
    accuracy = (model(x).argmax(1) == y).float().mean().item() * 100
print(f"timm {type(model).__name__}, our checkpoint loaded with strict=True: test accuracy {accuracy:.2f}%")
