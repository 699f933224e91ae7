"""ctdet_targets against the plain-PyTorch reference and the original numpy code path."""

import math

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import original, reference
from batches import random_batch

MODES = ["centernet", "corrected", "elliptical"]


def assert_targets_equal(got, expected):
    names = ("hm", "wh", "reg", "ind", "reg_mask")
    for name, g, e in zip(names, got, expected):
        g = g.cpu()
        assert g.dtype == e.dtype and g.shape == e.shape, name
        assert torch.equal(g, e.cpu()), f"{name} differs in {int((g != e.cpu()).sum())} elements"


def run_both(boxes, labels, num_classes, size, device, **kwargs):
    got = ops.ctdet_targets(boxes.to(device), labels.to(device), num_classes, size, **kwargs)
    expected = reference.ctdet_targets(boxes, labels, num_classes, size, **kwargs)
    return got, expected


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [(128, 128), (96, 160), (37, 23)])
def test_random_batches_match_reference(mode, size, device, native):
    g = torch.Generator().manual_seed(1000 * MODES.index(mode) + size[0])
    boxes, labels = random_batch(g, batch=3, num_boxes=40, num_classes=5, height=size[0],
                                 width=size[1])
    got, expected = run_both(boxes, labels, 5, size, device, max_objs=32, radius_mode=mode)
    assert_targets_equal(got, expected)
    assert got.reg_mask.sum() > 10  # the batch exercises drawing, not only skipping


def test_matches_original_numpy_code_path(device, native):
    g = torch.Generator().manual_seed(7)
    boxes, labels = random_batch(g, batch=4, num_boxes=60, num_classes=6, height=128, width=128,
                                 margin=0.1)
    got = ops.ctdet_targets(boxes.to(device), labels.to(device), 6, (128, 128), max_objs=50)
    assert_targets_equal(got, original.ctdet_targets_batch(boxes, labels, 6, (128, 128), 50))


def test_hm_values_are_the_original_gaussian(native):
    # one box of integral size 20 x 35 (radius exactly 7) centred at (60.5, 40.0)
    boxes = torch.tensor([[[43.0, 30.0, 78.0, 50.0]]])
    t = ops.ctdet_targets(boxes, torch.tensor([[2]]), 3, (128, 128))
    radius = 7
    sigma = (2 * radius + 1) / 6
    cx, cy = 60, 40
    assert t.hm[0, 2, cy, cx] == 1.0
    expected = math.exp(-(2 * 2 + 3 * 3) / (2 * sigma * sigma))
    assert t.hm[0, 2, cy + 3, cx - 2].item() == pytest.approx(expected, rel=1e-7)
    assert t.hm[0, 2, cy, cx + radius + 1] == 0 and t.hm[0, 2, cy, cx + radius] > 0
    assert t.hm[0, :2].abs().sum() == 0
    assert t.wh[0, 0].tolist() == [35.0, 20.0] and t.reg[0, 0].tolist() == [0.5, 0.0]
    assert t.ind[0, 0] == cy * 128 + cx and t.reg_mask[0].tolist() == [1] + [0] * 127


def test_no_objects_and_empty_batch(device, native):
    for batch, num_boxes in [(2, 0), (0, 5), (0, 0)]:
        boxes = torch.zeros(batch, num_boxes, 4)
        labels = torch.zeros(batch, num_boxes, dtype=torch.int64)
        got, expected = run_both(boxes, labels, 4, (16, 24), device, max_objs=8)
        assert_targets_equal(got, expected)
        assert got.hm.shape == (batch, 4, 16, 24) and got.hm.abs().sum() == 0
    all_padding = torch.full((2, 5), -1, dtype=torch.int64)
    got, expected = run_both(torch.rand(2, 5, 4) * 10, all_padding, 4, (16, 24), device)
    assert_targets_equal(got, expected)
    assert got.reg_mask.sum() == 0


def test_objects_beyond_max_objs_are_dropped(device, native):
    g = torch.Generator().manual_seed(3)
    boxes, labels = random_batch(g, batch=2, num_boxes=30, num_classes=3, height=64, width=64,
                                 pad_fraction=0.0, margin=0.0)
    got, expected = run_both(boxes, labels, 3, (64, 64), device, max_objs=10)
    assert_targets_equal(got, expected)
    first_ten, _ = run_both(boxes[:, :10], labels[:, :10], 3, (64, 64), device, max_objs=10)
    assert_targets_equal(got, first_ten)
    zero_slots, _ = run_both(boxes, labels, 3, (64, 64), device, max_objs=0)
    assert zero_slots.wh.shape == (2, 0, 2) and zero_slots.hm.abs().sum() == 0


def test_boxes_across_and_outside_the_border(device, native):
    boxes = torch.tensor([[
        [-10.0, -10.0, 5.0, 6.0],     # across the top-left corner
        [50.0, 20.0, 80.0, 30.0],     # across the right border (W = 64)
        [70.0, 10.0, 90.0, 20.0],     # fully right of the map: width 0 after clipping
        [-20.0, -20.0, -5.0, -1.0],   # fully above-left: empty
        [10.0, 40.0, 30.0, 100.0],    # across the bottom border (H = 48)
        [0.0, 0.0, 63.0, 47.0],       # the whole map
        [30.0, 30.0, 20.0, 40.0],     # inverted (x2 < x1): empty
        [1e30, -1e30, 2e30, 1e30],    # huge coordinates: clipped to the right border, empty
    ]])
    labels = torch.tensor([[0, 1, 1, 0, 2, 2, 1, 0]])
    got, expected = run_both(boxes, labels, 3, (48, 64), device)
    assert_targets_equal(got, expected)
    assert got.reg_mask[0, :8].tolist() == [1, 1, 0, 0, 1, 1, 0, 0]


def test_tiny_boxes_have_radius_zero_and_a_single_peak(device, native):
    boxes = torch.tensor([[[10.2, 10.2, 10.4, 10.5], [3.0, 3.0, 3.5, 4.0]]])
    got, expected = run_both(boxes, torch.tensor([[0, 1]]), 2, (20, 20), device)
    assert_targets_equal(got, expected)
    assert got.hm[0, 0].count_nonzero() == 1 and got.hm[0, 0, 10, 10] == 1.0
    assert got.hm[0, 1].count_nonzero() == 1


def test_identical_centres_take_the_elementwise_max(device, native):
    boxes = torch.tensor([[[10.0, 10.0, 30.0, 30.0], [15.0, 15.0, 25.0, 25.0],
                           [10.0, 10.0, 30.0, 30.0]]])
    labels = torch.tensor([[0, 0, 0]])
    got, expected = run_both(boxes, labels, 1, (40, 40), device)
    assert_targets_equal(got, expected)
    single_large, _ = run_both(boxes[:, :1], labels[:, :1], 1, (40, 40), device)
    # the large box's wider Gaussian dominates the small one's everywhere
    assert torch.equal(got.hm, single_large.hm)
    assert got.reg_mask[0, :3].tolist() == [1, 1, 1]
    assert got.ind[0, 0] == got.ind[0, 1] == got.ind[0, 2]


def test_exactly_integral_radius_boxes(device, native):
    # ceil(h) x ceil(w) = 20 x 35 and 40 x 70 have radii of exactly 7 and 14
    boxes = torch.tensor([[[5.0, 5.0, 40.0, 25.0], [20.0, 30.0, 90.0, 70.0],
                           [4.5, 60.25, 39.5, 79.75]]])
    labels = torch.tensor([[0, 1, 0]])
    got, expected = run_both(boxes, labels, 2, (100, 100), device)
    assert_targets_equal(got, expected)
    cx0, cy0 = 22, 15
    assert got.hm[0, 0, cy0, cx0 + 7] > 0 and got.hm[0, 0, cy0, cx0 + 8] == 0


def test_non_finite_boxes_are_absent(device, native):
    boxes = torch.tensor([[[1.0, 1.0, 9.0, 9.0], [float("nan"), 1.0, 5.0, 5.0],
                           [1.0, 1.0, float("inf"), 9.0], [2.0, 2.0, 6.0, 6.0]]])
    labels = torch.tensor([[0, 0, 1, 1]])
    got, expected = run_both(boxes, labels, 2, (12, 12), device)
    assert_targets_equal(got, expected)
    assert got.reg_mask[0, :4].tolist() == [1, 0, 0, 1]


def test_non_contiguous_inputs(device, native):
    g = torch.Generator().manual_seed(11)
    boxes, labels = random_batch(g, batch=2, num_boxes=20, num_classes=3, height=32, width=32)
    boxes_t = boxes.transpose(0, 1).contiguous().transpose(0, 1)
    labels_t = labels.t().contiguous().t()
    assert not boxes_t.is_contiguous()
    got, expected = run_both(boxes_t, labels_t, 3, (32, 32), device)
    assert_targets_equal(got, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_cpu_results_are_identical(native):
    g = torch.Generator().manual_seed(5)
    boxes, labels = random_batch(g, batch=16, num_boxes=128, num_classes=80, height=128,
                                 width=128)
    for mode in MODES:
        cpu = ops.ctdet_targets(boxes, labels, 80, (128, 128), radius_mode=mode)
        cuda = ops.ctdet_targets(boxes.cuda(), labels.cuda(), 80, (128, 128), radius_mode=mode)
        assert_targets_equal(cuda, cpu)
        again = ops.ctdet_targets(boxes.cuda(), labels.cuda(), 80, (128, 128), radius_mode=mode)
        assert_targets_equal(again, cpu)  # deterministic despite the atomics


GOOD = dict(boxes=torch.zeros(2, 3, 4), labels=torch.zeros(2, 3, dtype=torch.int64),
            num_classes=4, output_size=[8, 8])
BAD_ARGUMENTS = [
    (dict(boxes=torch.zeros(2, 3)), "boxes must have shape \\[B, N, 4\\]"),
    (dict(boxes=torch.zeros(2, 3, 5)), "boxes must have shape \\[B, N, 4\\]"),
    (dict(boxes=torch.zeros(2, 3, 4, dtype=torch.float64)), "boxes must be float32"),
    (dict(labels=torch.zeros(2, 3)), "labels must be int64"),
    (dict(labels=torch.zeros(6, dtype=torch.int64)), "labels must have shape \\[B, N\\]"),
    (dict(labels=torch.zeros(2, 4, dtype=torch.int64)), "to match boxes"),
    (dict(labels=torch.tensor([[0, 1, 4], [0, 0, 0]])), "labels must be in \\[-1, num_classes\\)"),
    (dict(labels=torch.tensor([[0, 1, -2], [0, 0, 0]])), "labels must be in \\[-1, num_classes\\)"),
    (dict(num_classes=0), "num_classes must be in \\[1, 2\\^31\\)"),
    (dict(output_size=[2 ** 16, 2 ** 15]), "output_size H \\* W must be below 2\\^31"),
    (dict(output_size=[0, 8]), "output_size must be two positive integers"),
    (dict(output_size=[8, 8, 8]), "output_size must be two positive integers"),
    (dict(max_objs=-1), "max_objs must be non-negative"),
    (dict(min_overlap=1.5), "min_overlap must be in the open interval"),
    (dict(radius_mode="gaussian"), "radius_mode must be one of"),
]


@pytest.mark.parametrize("use_native", [True, False], ids=["native", "reference"])
@pytest.mark.parametrize("override, match", BAD_ARGUMENTS,
                         ids=[m for _, m in BAD_ARGUMENTS])
def test_rejects_bad_arguments(override, match, use_native, request):
    impl = (request.getfixturevalue("native").ctdet_targets if use_native
            else reference.ctdet_targets)
    args = {**GOOD, **override}
    with pytest.raises(ValueError, match=match):
        impl(args["boxes"], args["labels"], args["num_classes"], args["output_size"],
             args.get("max_objs", 128), args.get("min_overlap", 0.7),
             args.get("radius_mode", "centernet"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rejects_mixed_devices(native):
    with pytest.raises(ValueError, match="boxes and labels must be on the same device"):
        native.ctdet_targets(GOOD["boxes"].cuda(), GOOD["labels"], 4, [8, 8])


def test_opcheck(native, device):
    g = torch.Generator().manual_seed(1)
    boxes, labels = random_batch(g, batch=2, num_boxes=6, num_classes=3, height=16, width=20)
    torch.library.opcheck(native.ctdet_targets.default,
                          (boxes.to(device), labels.to(device), 3, [16, 20], 8, 0.7, "elliptical"))


def targets_and_peak_count(boxes, labels):
    t = ops.ctdet_targets(boxes, labels, 3, (32, 32), max_objs=16)
    return t.hm, (t.hm == 1).sum(), t.ind * t.reg_mask


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiles_with_fullgraph(native, device, backend):
    g = torch.Generator().manual_seed(2)
    boxes, labels = random_batch(g, batch=2, num_boxes=10, num_classes=3, height=32, width=32)
    boxes, labels = boxes.to(device), labels.to(device)
    compiled = torch.compile(targets_and_peak_count, fullgraph=True, backend=backend)
    for got, expected in zip(compiled(boxes, labels), targets_and_peak_count(boxes, labels)):
        assert torch.equal(got, expected)


def test_exports(native):
    class Targets(torch.nn.Module):
        def forward(self, boxes, labels):
            return targets_and_peak_count(boxes, labels)

    g = torch.Generator().manual_seed(4)
    boxes, labels = random_batch(g, batch=2, num_boxes=10, num_classes=3, height=32, width=32)
    exported = torch.export.export(Targets(), (boxes, labels))
    assert any(node.target == native.ctdet_targets.default for node in exported.graph.nodes)
    for got, expected in zip(exported.module()(boxes, labels), targets_and_peak_count(boxes, labels)):
        assert torch.equal(got, expected)
