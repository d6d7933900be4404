#!/usr/bin/env python3
"""PyTorch reference timings for the same ViT shapes, to compare the Swift engine against.

Every speed ratio the project states against PyTorch (papers/notebook.md) is `make bench`'s
images/s over this script's, both run one after the other on the same machine.

Needs `pip install torch numpy` (a large download). Prints one tab-separated line per case:
    case  images_per_second  detail
Run it right after the Swift benchmark, on the same machine, and compare ratios, not absolutes.

  python3 Sources/bench/torch_reference.py                 # every case
  python3 Sources/bench/torch_reference.py --cases vit-s16-fwd,nano-train --threads 2

The dino-recipe-step, deit-student-step, convnet-step and convnet-teacher-fwd cases are the experiments' own default
steps (ema-teacher, distillation, the ConvNet teacher); the others are the papers' shapes.
"""
import argparse, time
import torch, torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, mlp_ratio * dim), nn.Linear(mlp_ratio * dim, dim)
        self.heads = heads

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v)  # PyTorch's fused attention, as timm uses it
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, img, patch, dim, depth, heads, chans=3, classes=1000, mlp_ratio=4, prefix=1):
        super().__init__()
        self.patch_embed = nn.Conv2d(chans, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, prefix, dim))  # prefix 2: class + distillation token
        self.pos_embed = nn.Parameter(torch.zeros(1, (img // patch) ** 2 + prefix, dim))
        self.prefix = prefix
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm, self.head = nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, classes)

    def tokens(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        pos, p = self.pos_embed, self.prefix
        n = x.shape[1]
        if n + p != pos.shape[1]:  # DINO-style interpolation for other crop sizes
            g0, g = int((pos.shape[1] - p) ** 0.5), int(n ** 0.5)
            grid = pos[:, p:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(g, g), mode="bicubic", align_corners=False)
            pos = torch.cat([pos[:, :p], grid.permute(0, 2, 3, 1).reshape(1, g * g, -1)], 1)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + pos
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)

    def features(self, x):
        return self.tokens(x)[:, 0]

    def forward(self, x):
        return self.head(self.features(x))


def rate(fn, images, min_seconds=3.0):
    fn()  # warm-up
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        fn()
        reps += 1
    return images * reps / (time.perf_counter() - start)


def forward_case(img, patch, dim, depth, heads, batch):
    model = ViT(img, patch, dim, depth, heads).eval()
    x = torch.randn(batch, 3, img, img)
    def step():
        with torch.no_grad():
            model(x)
    return rate(step, batch), f"img={img} patch={patch} dim={dim} depth={depth} heads={heads} batch={batch}"


def nano_train_case(patch=4, dim=128, depth=6, heads=4, batch=256):
    model = ViT(28, patch, dim, depth, heads, chans=1, classes=10)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return rate(step, batch), f"AdamW step, 28x28 patch={patch} dim={dim} depth={depth} heads={heads} batch={batch}"


def dino_loss(teacher, student):
    """DINO's loss: each teacher crop's distribution against every other crop's log-softmax."""
    terms = [-(t * s).sum(-1).mean() for i, t in enumerate(teacher) for j, s in enumerate(student) if i != j]
    return sum(terms) / len(terms)


def nano_dino_case(patch=4, dim=128, depth=6, heads=4, batch=128, out_dim=1024, local_crops=6, local_size=12):
    def make():
        vit = ViT(28, patch, dim, depth, heads, chans=1, classes=10)
        head = nn.Sequential(nn.Linear(dim, 256), nn.GELU(), nn.Linear(256, 256), nn.GELU(), nn.Linear(256, 64))
        last = nn.utils.parametrizations.weight_norm(nn.Linear(64, out_dim, bias=False))
        return vit, head, last
    sv, sh, sl = make()
    tv, th, tl = make()
    params = list(sv.parameters()) + list(sh.parameters()) + list(sl.parameters())
    opt = torch.optim.AdamW(params, 5e-4)
    center = torch.zeros(1, out_dim)
    g = [torch.randn(batch, 1, 28, 28) for _ in range(2)]
    loc = [torch.randn(batch, 1, local_size, local_size) for _ in range(local_crops)]
    def out(v, h, l, x):
        return l(F.normalize(h(v.features(x)), dim=-1))
    def step():
        with torch.no_grad():
            t = [F.softmax((out(tv, th, tl, x) - center) / 0.04, -1) for x in g]
        s = [F.log_softmax(out(sv, sh, sl, x) / 0.1, -1) for x in g + loc]
        opt.zero_grad()
        dino_loss(t, s).backward()
        opt.step()
        with torch.no_grad():
            for ps, pt in zip(params, list(tv.parameters()) + list(th.parameters()) + list(tl.parameters())):
                pt.mul_(0.996).add_(ps.detach(), alpha=0.004)
    return rate(step, batch), (f"DINO step, 2x28x28 + {local_crops}x{local_size}x{local_size} crops, patch={patch} "
                               f"dim={dim} depth={depth} heads={heads} out_dim={out_dim} batch={batch}")


def dino_head(dim, out_dim, hidden=256, bottleneck=64):
    head = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
    return head, nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, out_dim, bias=False))


def dino_recipe_case(batch=32, patch=7, dim=64, depth=4, heads=2, out_dim=1024, local_crops=4, local_size=14):
    """ema-teacher's default step: student on 2 global + 4 local crops (one forward per crop size),
    EMA teacher on the global crops, centering, per-parameter clipping, AdamW, momentum 0.99."""
    def make():
        vit = ViT(28, patch, dim, depth, heads, chans=1, classes=10)
        head, last = dino_head(dim, out_dim)
        return nn.ModuleList([vit, head, last])
    s_, t_ = make(), make()
    t_.load_state_dict(s_.state_dict())
    for p in t_.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(s_.parameters(), 2e-3, weight_decay=0.04)
    center = torch.zeros(1, out_dim)
    g = torch.randn(2 * batch, 1, 28, 28)
    loc = torch.randn(local_crops * batch, 1, local_size, local_size)
    def out(m, x):
        return m[2](F.normalize(m[1](m[0].features(x)), dim=-1))
    def step():
        nonlocal center
        with torch.no_grad():
            to = out(t_, g)
            tp = F.softmax((to - center) / 0.04, -1).chunk(2)
        sp = F.log_softmax(torch.cat([out(s_, g), out(s_, loc)]) / 0.1, -1).chunk(2 + local_crops)
        opt.zero_grad()
        dino_loss(tp, sp).backward()
        for p in s_.parameters():
            nn.utils.clip_grad_norm_([p], 3.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_mul_(list(t_.parameters()), 0.99)
            torch._foreach_add_(list(t_.parameters()), list(s_.parameters()), alpha=0.01)
            center = 0.9 * center + 0.1 * to.mean(0, keepdim=True)
    return rate(step, batch), (f"ema-teacher's DINO step, 2x28x28 + {local_crops}x{local_size}x{local_size} crops, patch={patch} "
                               f"dim={dim} depth={depth} heads={heads} out_dim={out_dim} batch={batch}")


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.down(x))


def convnet(widths=(32, 64, 128), classes=10):
    """The project's ConvNet teacher: a 3x3 stem, a 2x2 max-pool, one basic block per stage."""
    layers, cin = [nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(2)], widths[0]
    for s, w in enumerate(widths):
        layers.append(BasicBlock(cin, w, 2 if s > 0 else 1))
        cin = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))


def deit_student_case(batch=128, patch=7, dim=64, depth=4, heads=2):
    """distillation's default DeiT-token student step, its ConvNet teacher run on the same batch."""
    student = ViT(28, patch, dim, depth, heads, chans=1, classes=10, prefix=2)
    head_dist = nn.Linear(dim, 10)
    teacher = convnet().eval()
    opt = torch.optim.AdamW(list(student.parameters()) + list(head_dist.parameters()), 2e-3, weight_decay=0.05)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    def step():
        with torch.no_grad():
            yt = teacher(x).argmax(1)
        t = student.tokens(x)
        loss = 0.5 * F.cross_entropy(student.head(t[:, 0]), y, label_smoothing=0.1) + 0.5 * F.cross_entropy(head_dist(t[:, 1]), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return rate(step, batch), f"distillation's DeiT-token student step with the ConvNet teacher's forward, patch={patch} dim={dim} depth={depth} heads={heads} batch={batch}"


def convnet_case(batch=128):
    model = convnet()
    opt = torch.optim.AdamW(model.parameters(), 2e-3, weight_decay=0.05)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y, label_smoothing=0.1).backward()
        opt.step()
    return rate(step, batch), f"the ConvNet teacher's training step (stages 32/64/128, pooled stem), batch={batch}"


def convnet_forward_case(batch=128):
    model = convnet().eval()
    x = torch.randn(batch, 1, 28, 28)
    def step():
        with torch.no_grad():
            model(x)
    return rate(step, batch), f"the ConvNet teacher's evaluation forward without a graph, batch={batch}"


CASES = {
    "vit-s16-fwd": lambda: forward_case(224, 16, 384, 12, 6, 16),
    "vit-s8-fwd": lambda: forward_case(224, 8, 384, 12, 6, 4),
    "vit-b16-fwd": lambda: forward_case(224, 16, 768, 12, 12, 8),
    "vit-b8-fwd": lambda: forward_case(224, 8, 768, 12, 12, 2),
    "nano-train": nano_train_case,
    "nano-dino": nano_dino_case,
    "dino-recipe-step": dino_recipe_case,
    "deit-student-step": deit_student_case,
    "convnet-step": convnet_case,
    "convnet-teacher-fwd": convnet_forward_case,
}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.cases.split(","):
        ips, detail = CASES[name]()
        print(f"{name}\t{ips:.2f}\t{detail}", flush=True)
