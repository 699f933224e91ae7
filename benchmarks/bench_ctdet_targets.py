"""ctdet_targets against what users run today, side by side in one run.

Per case (device, objects per image) the group holds:
    fused        centernet_fast.ops.ctdet_targets: the whole batch in one call.
    numpy_loop   the original CenterNet path: per-image numpy drawing, one object at a time, then
                 the DataLoader's collate (torch.stack) into batch tensors. CPU only.
    torch_loop   a per-object torch loop on the target device, like mmdetection's (our
                 plain-PyTorch reference).
    zero_fill    torch.zeros of the heatmap alone: the floor, since the op must write every
                 heatmap element once.
Batch 32, 80 classes, 128 x 128 output map, the same random boxes for every implementation.

The floor: the heatmap alone is 32 * 80 * 128 * 128 float32 = 167.8 MB that must be written once
(about 50 us at an H100's 3.35 TB/s); zero_fill measures it on the machine at hand. The other
outputs are 32 * 128 * 25 bytes, negligible. Each benchmark declares the sum as
``floor_bytes``; the boxes rotate over 3 seeded sets.
"""

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import original, reference

from floors import FLOAT32, floor_info
from profiling import top_ops
from timing import measure

BATCH, CLASSES, SIZE = 32, 80, (128, 128)
MAX_OBJS, ROTATION = 128, 3
OBJECTS_PER_IMAGE = [1, 16, 128]
IMPLS = ["fused", "numpy_loop", "torch_loop", "zero_fill"]


def random_boxes(num_objects, seed=0):
    """Boxes with centres anywhere on the map and sides of 2 to 64 output pixels."""
    g = torch.Generator().manual_seed(seed)
    height, width = SIZE
    centre = torch.rand(BATCH, num_objects, 2, generator=g) * torch.tensor([width, height])
    half = (2 + torch.rand(BATCH, num_objects, 2, generator=g) * 62) / 2
    boxes = torch.cat([centre - half, centre + half], dim=-1)
    labels = torch.randint(0, CLASSES, (BATCH, num_objects), generator=g)
    return boxes, labels


def call(impl, boxes, labels):
    if impl == "fused":
        return ops.ctdet_targets(boxes, labels, CLASSES, SIZE)
    if impl == "numpy_loop":
        return original.ctdet_targets_batch(boxes, labels, CLASSES, SIZE)
    if impl == "torch_loop":
        return reference.ctdet_targets(boxes, labels, CLASSES, SIZE)
    return torch.zeros(BATCH, CLASSES, *SIZE, device=boxes.device)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("num_objects", OBJECTS_PER_IMAGE)
def test_ctdet_targets(benchmark, device, num_objects, impl):
    if impl == "numpy_loop" and device != "cpu":
        pytest.skip("the numpy path runs on the CPU only")
    arg_sets = [(impl, *(t.to(device) for t in random_boxes(num_objects, seed)))
                for seed in range(ROTATION)]
    # hm written once; wh and reg float32 pairs, ind int64 and reg_mask uint8 per slot.
    written = BATCH * CLASSES * SIZE[0] * SIZE[1] * FLOAT32 + BATCH * MAX_OBJS * 25
    benchmark.group = (f"ctdet_targets {device} B={BATCH} C={CLASSES} {SIZE[0]}x{SIZE[1]} "
                       f"objects={num_objects}")
    benchmark.extra_info.update(op="ctdet_targets", impl=impl, device=device, objects=num_objects,
                                **floor_info(floor_bytes=written))
    if impl == "fused":
        benchmark.extra_info["top_ops"] = top_ops(call, arg_sets[0], device)
    slow = impl in ("numpy_loop", "torch_loop")
    measure(benchmark, call, arg_sets, device, rounds=11 if slow else 31,
            warmup_rounds=1 if slow else 3)
