#!/usr/bin/env python3
"""Writes the PyTorch reference values the tensor tests compare against.

    pip install torch safetensors numpy && python3 Tests/TensorTests/Fixtures/make_fixtures.py

Outputs, next to this script:
  torch_reference.json       inputs, outputs and gradients of ops whose conventions matter
                             (bicubic borders, label smoothing, pooling padding, AdamW and SGD
                             trajectories), each computed by PyTorch in float64
  reference.safetensors      a file written by the reference safetensors library (F32, F16, BF16
                             tensors and metadata), which our reader must load
The tests read these files; rerun this script only to regenerate them.
"""
import json, pathlib
import torch, torch.nn.functional as F
from safetensors.torch import save_file

here = pathlib.Path(__file__).parent
torch.manual_seed(0)
cases = {}

def vjp(fn, inputs, seed):
    """Output of fn, and d(Σ out·r)/d(input) for each input, with r ~ N(0,1) from `seed`."""
    xs = [x.clone().double().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    r = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    (out * r).sum().backward()
    return out, r, [x.grad for x in xs]

def add(name, inputs, fn, **extra):
    out, r, grads = vjp(fn, inputs, seed=len(cases))
    cases[name] = dict(inputs=[dict(shape=list(x.shape), data=x.flatten().tolist()) for x in inputs],
                       output=dict(shape=list(out.shape), data=out.detach().flatten().tolist()),
                       projection=r.flatten().tolist(),
                       grads=[g.flatten().tolist() for g in grads], **extra)

g = torch.Generator().manual_seed(1)
def rnd(*shape): return torch.randn(*shape, generator=g, dtype=torch.float64)

# Bicubic resize (align_corners=False, A = -0.75, clamped borders), up and down.
grid = rnd(2, 5, 5)
add("bicubic_5_to_8", [grid], lambda x: F.interpolate(x[None], size=(8, 8), mode="bicubic", align_corners=False)[0])
add("bicubic_5_to_3x7", [grid], lambda x: F.interpolate(x[None], size=(3, 7), mode="bicubic", align_corners=False)[0])

# Cross-entropy with label smoothing; KL divergence at a temperature (batchmean).
logits, labels = rnd(4, 7), [3, 0, 6, 2]
add("cross_entropy_ls0.1", [logits], lambda z: F.cross_entropy(z, torch.tensor(labels), label_smoothing=0.1), labels=labels)
s, t = rnd(3, 6), rnd(3, 6)
add("kl_t3", [s, t], lambda s, t: F.kl_div(F.log_softmax(s / 3, -1), F.log_softmax(t / 3, -1),
                                            reduction="batchmean", log_target=True))

# Convolution and pooling (padding rules), F.normalize, GELU (erf), layer norm (eps 1e-6).
x, w, b = rnd(2, 3, 6, 5), rnd(4, 3, 3, 3), rnd(4)
add("conv2d_s2_p1", [x, w, b], lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1))
add("max_pool_k3_s2_p1", [x], lambda x: F.max_pool2d(x, 3, 2, 1))
add("avg_pool_k3_s2_p1", [x], lambda x: F.avg_pool2d(x, 3, 2, 1))
v = rnd(3, 4, 5)
add("normalize_dim1", [v], lambda v: F.normalize(v, dim=1))
add("gelu", [rnd(40) * 3], lambda v: F.gelu(v))
ln_x, ln_w, ln_b = rnd(3, 10), rnd(10), rnd(10)
add("layer_norm", [ln_x, ln_w, ln_b], lambda x, w, b: F.layer_norm(x, (10,), w, b, eps=1e-6))

# Optimizer trajectories: 5 steps on f(p) = Σ (p ⊙ c)² with fixed c, in float64.
def trajectory(make_opt, decay_groups):
    p0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    q0 = torch.tensor([0.3, -0.7], dtype=torch.float64)
    c = torch.tensor([0.5, 1.5, -1.0], dtype=torch.float64)
    p, q = p0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
    opt = make_opt([dict(params=[p], weight_decay=decay_groups[0]), dict(params=[q], weight_decay=decay_groups[1])])
    out = []
    for _ in range(5):
        opt.zero_grad()
        (((p * c) ** 2).sum() + (q ** 3).sum()).backward()
        opt.step()
        out.append(p.detach().tolist() + q.detach().tolist())
    return dict(p0=p0.tolist(), q0=q0.tolist(), c=c.tolist(), steps=out)

cases["adamw_5_steps"] = trajectory(lambda g: torch.optim.AdamW(g, lr=0.1, betas=(0.9, 0.999), eps=1e-8), (0.05, 0.0))
cases["adamw_5_steps"].update(lr=0.1, weight_decay=0.05)
cases["sgd_5_steps"] = trajectory(lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9), (0.01, 0.0))
cases["sgd_5_steps"].update(lr=0.05, momentum=0.9, weight_decay=0.01)

(here / "torch_reference.json").write_text(json.dumps(dict(version=1, torch=torch.__version__, cases=cases), indent=1))

save_file({"blocks.0.attn.qkv.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8,
           "half": torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16),
           "brain": torch.tensor([[1.0, -3.5]], dtype=torch.bfloat16),
           "scalar": torch.tensor(7.0)},
          str(here / "reference.safetensors"), metadata={"format": "pt", "note": "fixture"})
print("wrote", here / "torch_reference.json", "and", here / "reference.safetensors")
