"""deform_conv2d (DCNv2) forward and forward + backward against torchvision, side by side.

Per case (pass, device, shape) the group holds:
    fused        centernet_fast.ops.deform_conv2d: a sampling table per (deformable group, tap),
                 the modulated column matrix and one batched matrix product over the conv groups;
                 the backward recomputes the sampling and scatters into owned planes
                 (deterministic).
    torchvision  torchvision.ops.deform_conv2d, what users run today (skipped when torchvision
                 is not importable).
    reference    our plain-PyTorch reference (grid_sample-style gathers and one einsum), eager.
Shapes are the DCN layers of CenterNet's DLA-34 up path (3 x 3, stride 1, padding 1, one offset
group, mask from the offset branch), scaled for a CPU: batch 2, 64 -> 64 at 64 x 64,
128 -> 128 at 32 x 32 and 256 -> 256 at 16 x 16, float32, bias.

The floor in FLOPs: the convolution itself, 2 * B * C_out * C_in * 9 * H_out * W_out multiply-adds
= 2 * 2 * 64 * 64 * 9 * 4096 = 604 MFLOP for every shape here (the three shapes trade channels
for pixels at a constant product), and twice that again in the backward (input-column and weight
gradients): 1.8 GFLOP forward + backward, about 30 ms at 2 cores x ~32 GFLOP/s of float32 FMA.
The bilinear sampling adds 4 multiply-adds per column element (B * C_in * 9 * H_out * W_out =
4.7 M elements: 38 MFLOP forward) and about 5x that backward (input scatter, offset and mask
gradients), small next to the matrix products but memory-bound and gather-shaped.
"""

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import reference

from timing import synchronized

try:
    import torchvision.ops
except ImportError:  # pragma: no cover - depends on the environment
    torchvision = None

BATCH = 2
SHAPES = [(64, 64, 64), (128, 128, 32), (256, 256, 16)]  # (C_in, C_out, H = W)
IMPLS = ["fused", "torchvision", "reference"]
PASSES = ["fwd", "fwd+bwd"]


def inputs(shape, device, seed=0):
    c_in, c_out, size = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, c_in, size, size, generator=g)
    offset = torch.randn(BATCH, 2 * 9, size, size, generator=g) * 2
    mask = torch.rand(BATCH, 9, size, size, generator=g)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g) / (3 * c_in ** 0.5)
    bias = torch.randn(c_out, generator=g)
    return [t.to(device).requires_grad_(True) for t in (x, offset, weight, bias, mask)]


def op(impl):
    if impl == "fused":
        return ops.deform_conv2d
    if impl == "torchvision":
        return torchvision.ops.deform_conv2d
    return reference.deform_conv2d


def implementation(impl, backward):
    fn = op(impl)

    def forward(x, offset, weight, bias, mask):
        with torch.no_grad():
            return fn(x, offset, weight, bias, padding=(1, 1), mask=mask)

    def forward_backward(x, offset, weight, bias, mask):
        for t in (x, offset, weight, bias, mask):
            t.grad = None
        out = fn(x, offset, weight, bias, padding=(1, 1), mask=mask)
        out.backward(torch.ones_like(out))
        return out

    return forward_backward if backward else forward


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}-{s[1]}@{s[2]}")
@pytest.mark.parametrize("pass_", PASSES)
def test_deform_conv2d(benchmark, device, pass_, shape, impl):
    if impl == "torchvision" and torchvision is None:
        pytest.skip("torchvision is not installed")
    c_in, c_out, size = shape
    benchmark.group = f"deform_conv2d {pass_} {device} {BATCH}x{c_in}->{c_out}@{size}x{size}"
    benchmark.extra_info.update(op="deform_conv2d", impl=impl, device=device, pass_=pass_)
    args = inputs(shape, device)
    fn = synchronized(implementation(impl, pass_ == "fwd+bwd"), device)
    slow = device == "cpu" and impl == "reference"
    benchmark.pedantic(fn, args=args, rounds=5 if slow else 11, warmup_rounds=2)
