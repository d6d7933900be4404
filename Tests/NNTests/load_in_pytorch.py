#!/usr/bin/env python3
"""Loads any model this project saves into plain PyTorch, built from the file's own metadata, and
measures its Fashion-MNIST test accuracy there.

Every cached model (`.cache/teachers/*.safetensors`, `.cache/students/*.safetensors`) records its
architecture (`architecture`: vit or convnet) and that architecture's config (`config`, the JSON of
ViTConfig or ConvNetConfig) beside its weights; this script reads both, builds the same network in
PyTorch with timm's parameter names, loads the weights with strict=True and evaluates:
  - a ViT (prefix "cls"): its head;
  - DeiT⚗ ("clsAndDist"): the class head, the distillation head and their averaged logits (the
    official code's fusion, the "fused logits" accuracy `distillation` reports);
  - the two-class-token control ("twoCls"): both heads;
  - a ConvNet: its fc;
  - a backbone without a head (DINO's, classes 0): the 20-NN accuracy of its class-token features
    (cosine similarity, weights exp(s/0.07), the training set as the bank: DINO's k-NN).

    pip install torch numpy
    python3 Tests/NNTests/load_in_pytorch.py .cache/teachers/convnet-default-seed0-*.safetensors

Needs only torch and numpy: the safetensors file is read by hand (an 8-byte header length, a JSON
header, raw little-endian tensors).
"""
import argparse, gzip, json, math, os, struct, sys
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


class Block(nn.Module):
    """timm's pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm ε 1e-6, exact GELU."""

    def __init__(self, dim, heads, mlp_ratio, qkv_bias):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv, self.attn.proj = nn.Linear(dim, 3 * dim, bias=qkv_bias), nn.Linear(dim, dim)
        self.mlp = nn.Module()
        self.mlp.fc1, self.mlp.fc2 = nn.Linear(dim, mlp_ratio * dim), nn.Linear(mlp_ratio * dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.attn.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attention = (q @ k.transpose(-2, -1) / math.sqrt(c // self.heads)).softmax(-1)
        x = x + self.attn.proj((attention @ v).transpose(1, 2).reshape(b, n, c))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class ViT(nn.Module):
    """The project's VisionTransformer from its ViTConfig: prefix tokens (cls_token, then dist_token
    or cls_token_2), position embeddings over prefix and patches, and a head per prefix token."""

    SECOND = {"cls": None, "clsAndDist": ("dist_token", "head_dist"), "twoCls": ("cls_token_2", "head_2")}

    def __init__(self, c):
        super().__init__()
        d, grid, self.prefix = c["width"], c["imageSize"] // c["patchSize"], c["prefix"]
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(c["channels"], d, c["patchSize"], c["patchSize"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        second = self.SECOND[self.prefix]
        if second:
            self.register_parameter(second[0], nn.Parameter(torch.zeros(1, 1, d)))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + (2 if second else 1), d))
        self.blocks = nn.ModuleList([Block(d, c["heads"], c["mlpRatio"], c.get("qkvBias", True)) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(d, eps=1e-6)
        if c["classes"] > 0:
            self.head = nn.Linear(d, c["classes"])
            if second:
                self.add_module(second[1], nn.Linear(d, c["classes"]))
        self.classes = c["classes"]

    def tokens(self, images):
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2)
        second = self.SECOND[self.prefix]
        prefix = [self.cls_token] + ([getattr(self, second[0])] if second else [])
        x = torch.cat([t.expand(x.shape[0], -1, -1) for t in prefix] + [x], 1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def outputs(self, images):
        """Every head's logits by name, and the fused logits where there are two heads."""
        x = self.tokens(images)
        if self.classes == 0:
            return {"features": x[:, 0]}
        out = {"head": self.head(x[:, 0])}
        second = self.SECOND[self.prefix]
        if second:
            out[second[1]] = getattr(self, second[1])(x[:, 1])
            out["fused logits"] = (out["head"] + out[second[1]]) / 2
        return out


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ConvNet(nn.Module):
    """The project's ConvNet from its ConvNetConfig: a 3×3 stem (and a 2×2 max-pool when stemPool),
    stages of BasicBlocks (each after the first halves the resolution), average pooling, fc."""

    def __init__(self, c):
        super().__init__()
        w = c["widths"]
        self.stem_pool = c.get("stemPool", False)
        self.conv1, self.bn1 = nn.Conv2d(c["channels"], w[0], 3, 1, 1, bias=False), nn.BatchNorm2d(w[0])
        cin = w[0]
        for s, width in enumerate(w):
            blocks = []
            for b in range(c["blocksPerStage"]):
                blocks.append(BasicBlock(cin, width, 2 if s > 0 and b == 0 else 1))
                cin = width
            self.add_module(f"layer{s + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, c["classes"])
        self.stages = len(w)

    def outputs(self, images):
        x = F.relu(self.bn1(self.conv1(images)))
        if self.stem_pool:
            x = F.max_pool2d(x, 2)
        for s in range(self.stages):
            x = getattr(self, f"layer{s + 1}")(x)
        return {"fc": self.fc(x.mean((2, 3)))}


def fashion_mnist(folder):
    def idx(name, offset):
        for path in (os.path.join(folder, name + ".gz"), os.path.join(folder, name)):
            if os.path.exists(path):
                raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
                return np.frombuffer(raw[offset:], np.uint8)
        sys.exit(f"Fashion-MNIST: {name}(.gz) not found in {folder}; pass --data or install Debian's dataset-fashion-mnist")
    train = idx("train-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28) / 255.0
    mean, std = train.mean(), train.std()  # the training set's statistics, as the Swift loader's
    normalize = lambda x: torch.tensor((x - mean) / std, dtype=torch.float32)
    test = idx("t10k-images-idx3-ubyte", 16).reshape(-1, 1, 28, 28) / 255.0
    return (normalize(train), torch.tensor(idx("train-labels-idx1-ubyte", 8), dtype=torch.long),
            normalize(test), torch.tensor(idx("t10k-labels-idx1-ubyte", 8), dtype=torch.long))


def batched(model, images, batch=500):
    with torch.no_grad():
        parts = [model.outputs(images[i:i + batch]) for i in range(0, len(images), batch)]
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def knn20(train_features, train_labels, test_features, test_labels, k=20, temperature=0.07, classes=10):
    bank, queries = F.normalize(train_features, dim=1), F.normalize(test_features, dim=1)
    correct = 0
    for i in range(0, len(queries), 500):
        similarity, index = (queries[i:i + 500] @ bank.T).topk(k, dim=1)
        votes = torch.zeros(len(index), classes).scatter_add_(1, train_labels[index], (similarity / temperature).exp())
        correct += (votes.argmax(1) == test_labels[i:i + 500]).sum().item()
    return 100 * correct / len(queries)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a .safetensors file the project saved (a cached teacher or student)")
    ap.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist",
                    help="folder of the four IDX files (default: $FASHION_MNIST_DIR or Debian's)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    weights, metadata = read_safetensors(args.model)
    if "architecture" not in metadata or "config" not in metadata:
        sys.exit(f"{args.model}: its metadata names no architecture (a model saved before models carried one); "
                 "delete it and rerun the experiment that made it")
    config = json.loads(metadata["config"])
    model = {"vit": ViT, "convnet": ConvNet}[metadata["architecture"]](config)
    model.load_state_dict(weights, strict=True)  # every name and shape must match
    model.eval()
    train_x, train_y, test_x, test_y = fashion_mnist(args.data)
    outputs = batched(model, test_x)
    print(f"{os.path.basename(args.model)}: {metadata['architecture']} {json.dumps(config, sort_keys=True)}")
    if "features" in outputs:
        accuracy = knn20(batched(model, train_x)["features"], train_y, outputs["features"], test_y)
        print(f"PyTorch, loaded with strict=True: k-NN20 test accuracy {accuracy:.2f}% (the 60 000 training images as the bank)")
    for name, logits in outputs.items():
        if name != "features":
            print(f"PyTorch, loaded with strict=True: {name} test accuracy {(logits.argmax(1) == test_y).float().mean().item() * 100:.2f}%")


if __name__ == "__main__":
    main()
