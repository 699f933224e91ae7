"""ctdet_decode against the original CenterNet decode, side by side in one run.

Per case (device, batch) the group holds:
    fused              centernet_fast.ops.ctdet_decode: one pass over the heatmap.
    original           the original CenterNet path in eager mode: max_pool2d NMS, per-class
                       top-K, global top-K, gathers (centernet_fast.ops.original.ctdet_decode).
    original_compiled  the same code under torch.compile (default mode), compiled outside the
                       timed region.
    read_floor         heat.amax(): one read of the heatmap, the floor on the machine at hand.
80 classes, 128 x 128 output map, K = 100. The heatmap is what a trained network puts out:
sigmoid of background logits around -4 (noise: many weak local maxima) plus +8 at Gaussian
peaks drawn by ctdet_targets for 20 objects per image.

The floor: the heatmap must be read once, B * 80 * 128 * 128 float32 = 5.2 MB at batch 1 and
167.8 MB at batch 32 (1.6 us and 50 us at an H100's 3.35 TB/s; at batch 1 the launch latency of a
few microseconds dominates). Everything else is K rows: gathers of wh/reg (B * K * 16 bytes) and
the output (B * K * 24 bytes), negligible. Each benchmark declares the sum as ``floor_bytes``;
inputs rotate over 3 seeded sets, so that at batch 1 the heatmap is not still in the GPU's L2.
"""

import functools

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import original

from floors import FLOAT32, floor_info
from profiling import top_ops
from timing import measure, synchronized

CLASSES, SIZE, K, OBJECTS = 80, (128, 128), 100, 20
ROTATION = 3
BATCHES = [1, 32]
IMPLS = ["fused", "original", "original_compiled", "read_floor"]


def network_outputs(batch, device, seed=0):
    """(heat, wh, reg) like a trained CenterNet's: probabilities, box sizes, offsets."""
    g = torch.Generator().manual_seed(seed)
    height, width = SIZE
    centre = torch.rand(batch, OBJECTS, 2, generator=g) * torch.tensor([width, height])
    half = (2 + torch.rand(batch, OBJECTS, 2, generator=g) * 30) / 2
    labels = torch.randint(0, CLASSES, (batch, OBJECTS), generator=g)
    hm = ops.ctdet_targets(torch.cat([centre - half, centre + half], -1), labels, CLASSES, SIZE).hm
    logits = torch.randn(batch, CLASSES, height, width, generator=g) - 4.0 + 8.0 * hm
    wh = torch.rand(batch, 2, height, width, generator=g) * 40
    reg = torch.rand(batch, 2, height, width, generator=g)
    return torch.sigmoid(logits).to(device), wh.to(device), reg.to(device)


@functools.lru_cache(maxsize=None)
def compiled_original():
    return torch.compile(original.ctdet_decode)


def call(impl, heat, wh, reg):
    if impl == "fused":
        return ops.ctdet_decode(heat, wh, reg, K=K)
    if impl == "original":
        return original.ctdet_decode(heat, wh, reg, K=K)
    if impl == "original_compiled":
        return compiled_original()(heat, wh, reg, K=K)
    return heat.amax()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", BATCHES)
def test_ctdet_decode(benchmark, device, batch, impl):
    arg_sets = [(impl, *network_outputs(batch, device, seed)) for seed in range(ROTATION)]
    synchronized(call, device)(*arg_sets[0])  # compiles original_compiled outside the timing
    heat_bytes = arg_sets[0][1].numel() * FLOAT32
    benchmark.group = f"ctdet_decode {device} B={batch} C={CLASSES} {SIZE[0]}x{SIZE[1]} K={K}"
    benchmark.extra_info.update(op="ctdet_decode", impl=impl, device=device, batch=batch,
                                **floor_info(floor_bytes=heat_bytes + batch * K * 40))
    if impl == "fused":
        benchmark.extra_info["top_ops"] = top_ops(call, arg_sets[0], device)
    slow = impl == "original" and device == "cpu" and batch > 1
    measure(benchmark, call, arg_sets, device, rounds=7 if slow else 31,
            warmup_rounds=1 if slow else 3)
