"""ctdet_targets, gaussian_radius and ctdet_decode: the CUDA kernels, executed on the CPU emulation
through their CUDA registrations, equal the CPU kernels bit for bit, under every schedule."""

import pytest
import torch

from batches import box_maps, distinct_heat, random_batch
from cuda_emu_harness import SCHEDULES, across_schedules, assert_same_bits
from index_bounds import over_the_bounds

cpu = torch.ops.centernet_fast

TARGET_CASES = {
    # name: (batch, boxes, classes, height, width, max_objs)
    "random": (3, 20, 80, 48, 64, 128),
    "max_objs_exceeded": (2, 40, 5, 32, 32, 16),
    "one_cell_map": (1, 3, 1, 1, 1, 4),
    "odd_slot_count": (3, 7, 3, 17, 13, 9),  # 27 slots: a block not filled with warps
    "many_objects_128": (4, 40, 80, 128, 128, 128),
    # One class, so the Gaussians of different warps overlap and combine through the atomic max.
    "overlapping_one_class": (2, 12, 1, 24, 24, 16),
}


@pytest.mark.parametrize("mode", ["centernet", "corrected", "elliptical"])
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_ctdet_targets(emu, name, mode):
    b, n, c, h, w, max_objs = TARGET_CASES[name]
    boxes, labels = random_batch(torch.Generator().manual_seed(len(name)), b, n, c, h, w)
    args = (boxes, labels, c, [h, w], max_objs, 0.7, mode)
    got = across_schedules(emu.ctdet_targets, *args)
    assert_same_bits(got, cpu.ctdet_targets(*args), f"{name}/{mode}")


def test_ctdet_targets_edge_cases(emu):
    g = torch.Generator().manual_seed(3)
    boxes, labels = random_batch(g, 2, 6, 4, 20, 24)
    boxes[0, 0] = float("nan")
    boxes[0, 1] = torch.tensor([-50.0, -50.0, -40.0, -40.0])  # wholly outside the map
    boxes[1, 2] = torch.tensor([5.0, 5.0, 5.0, 5.0])           # zero size
    labels[1] = -1                                             # an image with no objects
    for args in [(boxes, labels, 4, [20, 24], 8, 0.7, "centernet"),
                 (boxes[:0], labels[:0], 4, [20, 24], 8, 0.7, "centernet"),   # empty batch
                 (boxes[:, :0], labels[:, :0], 4, [20, 24], 8, 0.7, "centernet")]:  # no boxes
        assert_same_bits(across_schedules(emu.ctdet_targets, *args), cpu.ctdet_targets(*args))


@pytest.mark.parametrize("mode", ["centernet", "corrected"])
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_gaussian_radius(emu, n, mode):
    g = torch.Generator().manual_seed(n)
    h = torch.rand(n, generator=g, dtype=torch.float64) * 200
    w = torch.rand(n, generator=g, dtype=torch.float64) * 200
    assert_same_bits(across_schedules(emu.gaussian_radius, h, w, 0.7, mode),
                     cpu.gaussian_radius(h, w, 0.7, mode))


DECODE_CASES = {
    # name: ((batch, classes, height, width), K)
    "one_cell": ((1, 1, 1, 1), 1),
    "one_tile_ragged": ((2, 3, 17, 19), 40),
    "twenty_tiles": ((1, 80, 32, 32), 100),
    "k_beyond_cells": ((2, 2, 8, 8), 500),
    "k_max_two_launch": ((1, 3, 40, 40), 2048),
    "k_sorted_fallback": ((2, 2, 40, 40), 3000),
    "k_equals_tile": ((1, 1, 64, 64), 4096),
}


def decode_both(emu, heat, wh, reg, schedules=SCHEDULES, **kw):
    args = (heat, wh, reg, kw.get("K", 100), kw.get("cat_spec_wh", False),
            kw.get("logits", False), kw.get("threshold"))
    got = across_schedules(emu.ctdet_decode, *args, schedules=schedules)
    assert_same_bits(got, cpu.ctdet_decode(*args))
    return got


@pytest.mark.parametrize("name", sorted(DECODE_CASES))
def test_ctdet_decode_paths(emu, name):
    (b, c, h, w), k = DECODE_CASES[name]
    g = torch.Generator().manual_seed(b * c * h * w)
    # Large cases under two schedules: each emulated tile is 256 fibers.
    schedules = SCHEDULES if b * c * h * w <= 4096 else SCHEDULES[:2]
    wh, reg = box_maps(g, b, 2, h, w)
    decode_both(emu, distinct_heat(g, b, c, h, w), wh, reg, schedules, K=k)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_ctdet_decode_dtypes_ties_and_options(emu, dtype):
    g = torch.Generator().manual_seed(7)
    # Quantised heat: many equal scores and plateaus, broken by the index rule.
    heat = (torch.rand(2, 6, 24, 20, generator=g) * 8).floor() / 8
    wh, reg = box_maps(g, 2, 12, 24, 20)
    heat = heat.to(dtype)
    decode_both(emu, heat, wh[:, :2], reg, K=64)
    decode_both(emu, heat, wh, None, K=64, cat_spec_wh=True)
    decode_both(emu, ((heat.float() - 0.5) * 24).to(dtype), wh[:, :2], reg, K=64, logits=True)
    decode_both(emu, heat, wh[:, :2], reg, K=64, threshold=0.5)


def test_ctdet_decode_edge_cases(emu):
    g = torch.Generator().manual_seed(11)
    heat = distinct_heat(g, 2, 3, 9, 9)
    heat[0, 1, 4, 4] = float("nan")
    heat[1, 0] = 0.0  # a class with no peaks above zero
    wh, reg = box_maps(g, 2, 2, 9, 9)
    decode_both(emu, heat, wh, reg, K=30)
    decode_both(emu, torch.zeros(2, 3, 9, 9), wh, reg, K=30)  # all ties at zero
    decode_both(emu, heat[:0], wh[:0], reg[:0], K=30)  # empty batch


@pytest.mark.parametrize("case", range(3), ids=["decode", "targets", "deform"])
def test_cuda_registrations_refuse_sizes_past_32_bit_indices(emu, case):
    call, message = over_the_bounds(emu)[case]
    with pytest.raises(ValueError, match=message):
        call()
