"""deform_conv2d (DCNv2) forward and forward + backward at the 16 DCN layers of CenterNet's DLA-34,
side by side with torchvision and the plain-PyTorch reference.

Per case (pass, device, precision, layer shape) the group holds:
    fused        centernet_fast.ops.deform_conv2d: a sampling table per (deformable group, tap),
                 the modulated column matrix of a bounded chunk of images and one matrix product
                 per conv group; the backward recomputes the sampling and scatters into owned
                 planes (deterministic).
    torchvision  torchvision.ops.deform_conv2d, what users run today (skipped when torchvision
                 is not importable).
    reference    our plain-PyTorch reference (gathers and one einsum), eager.

Shapes: the DLA-34 up path at a 512 x 512 input (3 x 3, stride 1, padding 1, one offset group,
mask, bias), read from the original model's DCN layer list in
tests/data/centernet_original/ctdet_dla_34.json: 512->256 @16, 256->256 @32, 256->128 @32 (x2),
128->128 @64 (x2), 128->64 @64 (x4), 256->64 @32, 64->64 @128 (x5). Batch 32 on CUDA; on a CPU
batch 1 (CENTERNET_FAST_BENCH_DCN_BATCH overrides both). Each benchmark records its layer count
so that the report sums the medians over the 16 layers ("DLA-34 up path" table).

Precision: float32 everywhere; on CUDA also bfloat16 under torch.autocast (inputs float32, as in
mixed-precision training): the fused op runs in bfloat16, torchvision's autocast rule runs it in
float32.

Memory: every benchmark also records ``transient_peak_bytes`` (benchmarks/memory.py), the peak
scratch above the call's inputs and results, measured in one extra untimed call.

The floor in FLOPs per layer: 2 * B * C_out * C_in * 9 * H * W for the forward matrix product
and twice that in the backward; summed over the 16 layers at batch 1 that is 14.2 GFLOP forward
and 42.6 GFLOP forward + backward (454 / 1363 GFLOP at batch 32). In bytes: the forward reads
input, offset, mask and weight and writes the output once; the backward reads them and the output
gradient again and writes their gradients. Each benchmark declares both (``floor_flops`` in the
case's precision, ``floor_bytes``); inputs rotate over 3 seeded sets.
"""

import json
import os
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import reference

from floors import FLOAT32, deform_conv2d_flops, floor_info
from memory import transient_peak_bytes
from profiling import top_ops
from timing import measure, synchronized

try:
    import torchvision.ops
except ImportError:  # pragma: no cover - depends on the environment
    torchvision = None

MANIFEST = Path(__file__).parents[1] / "tests/data/centernet_original/ctdet_dla_34.json"
IMPLS = ["fused", "torchvision", "reference"]
PASSES = ["fwd", "fwd+bwd"]
PRECISIONS = ["float32", "autocast-bf16"]
ROTATION = 3


def dla34_layers():
    """[((C_in, C_out, H), number of layers of that shape)] of the DLA-34 DCN layers."""
    layers = json.loads(MANIFEST.read_text())["dcn_layers"]
    counts = Counter((l["in_channels"], l["out_channels"], l["input_HW"][0]) for l in layers)
    assert sum(counts.values()) == 16 and all(
        l["kernel_size"] == [3, 3] and l["stride"] == 1 and l["padding"] == 1 for l in layers)
    return sorted(counts.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))


def floor(shape, batch, backward, precision):
    """The case's floor_info: FLOPs of the matrix products, bytes of the tensors in and out."""
    c_in, c_out, size = shape
    pixels, weights = size * size, c_out * c_in * 9
    inputs_ = batch * pixels * (c_in + 27) + weights + c_out  # input, offset + mask, weight, bias
    moved = inputs_ + batch * pixels * c_out  # + output
    if backward:
        moved += batch * pixels * c_out + 2 * inputs_  # output gradient; inputs again, gradients
    flops = deform_conv2d_flops(batch, c_in, c_out, size, size) * (3 if backward else 1)
    return floor_info(floor_bytes=moved * FLOAT32, floor_flops=flops,
                      dtype="bfloat16" if precision == "autocast-bf16" else "float32")


LAYERS = dla34_layers()


def batch_size(device):
    default = 32 if device == "cuda" else 1
    return int(os.environ.get("CENTERNET_FAST_BENCH_DCN_BATCH", default))


def inputs(shape, batch, device, seed=0):
    """float32 (input, offset, weight, bias, mask), random, offsets of a few pixels."""
    c_in, c_out, size = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, c_in, size, size, generator=g)
    offset = torch.randn(batch, 2 * 9, size, size, generator=g) * 2
    mask = torch.rand(batch, 9, size, size, generator=g)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g) / (3 * c_in ** 0.5)
    bias = torch.randn(c_out, generator=g)
    return [t.to(device).requires_grad_(True) for t in (x, offset, weight, bias, mask)]


def op(impl):
    if impl == "fused":
        return ops.deform_conv2d
    if impl == "torchvision":
        return torchvision.ops.deform_conv2d
    return reference.deform_conv2d


def implementation(impl, backward, device, precision):
    fn = op(impl)

    def context():
        if precision == "autocast-bf16":
            return torch.autocast(device, dtype=torch.bfloat16)
        return nullcontext()

    def forward(x, offset, weight, bias, mask):
        with torch.no_grad(), context():
            return fn(x, offset, weight, bias, padding=(1, 1), mask=mask)

    def forward_backward(x, offset, weight, bias, mask):
        for t in (x, offset, weight, bias, mask):
            t.grad = None
        with context():
            out = fn(x, offset, weight, bias, padding=(1, 1), mask=mask)
        out.backward(torch.ones_like(out))
        return out

    return forward_backward if backward else forward


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: f"{l[0][0]}-{l[0][1]}@{l[0][2]}")
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("pass_", PASSES)
def test_deform_conv2d(benchmark, device, pass_, precision, layer, impl):
    if impl == "torchvision" and torchvision is None:
        pytest.skip("torchvision is not installed")
    if precision != "float32" and device != "cuda":
        pytest.skip("mixed precision is benchmarked on CUDA only")
    (c_in, c_out, size), count = layer
    batch = batch_size(device)
    benchmark.group = (f"deform_conv2d {pass_} {device} {precision} "
                       f"{batch}x{c_in}->{c_out}@{size}x{size}")
    arg_sets = [inputs((c_in, c_out, size), batch, device, seed) for seed in range(ROTATION)]
    backward = pass_ == "fwd+bwd"
    fn = implementation(impl, backward, device, precision)
    synchronized(fn, device)(*arg_sets[0])  # warm-up outside the memory measurement
    benchmark.extra_info.update(
        op="deform_conv2d", impl=impl, device=device, pass_=pass_, precision=precision,
        layers=count, summary=f"deform_conv2d {pass_} {device} {precision} batch {batch}: "
                              f"the 16 DLA-34 DCN layers",
        transient_peak_bytes=transient_peak_bytes(synchronized(fn, device), arg_sets[0], device),
        **floor((c_in, c_out, size), batch, backward, precision))
    if impl == "fused":
        benchmark.extra_info["top_ops"] = top_ops(fn, arg_sets[0], device)
    slow = device == "cpu" and impl != "fused"
    measure(benchmark, fn, arg_sets, device, rounds=5 if slow else 11, warmup_rounds=1)
