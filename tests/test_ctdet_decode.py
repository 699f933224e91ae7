"""ctdet_decode against the plain-PyTorch reference and the original CenterNet decode."""

import pytest
import torch

from batches import box_maps, distinct_heat
from centernet_fast import ops
from centernet_fast.ops import original, reference


def run_both(heat, wh, reg, device, **kwargs):
    """The op on `device` and the reference on the CPU; they must agree bit for bit."""
    to = (lambda t: None if t is None else t.to(device))
    got = ops.ctdet_decode(to(heat), to(wh), to(reg), **kwargs)
    expected = reference.ctdet_decode(heat, wh, reg, **kwargs)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    got = got.cpu()
    assert torch.equal(got, expected), f"{int((got != expected).any(-1).sum())} rows differ"
    return got


SHAPES = [(2, 3, 17, 23, 50), (1, 80, 32, 32, 100), (3, 5, 40, 8, 7), (2, 2, 9, 130, 300)]


@pytest.mark.parametrize("cat_spec_wh", [False, True])
@pytest.mark.parametrize("with_reg", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_tie_free_maps_match_reference(shape, with_reg, cat_spec_wh, device, native):
    batch, classes, height, width, k = shape
    g = torch.Generator().manual_seed(sum(shape))
    heat = distinct_heat(g, batch, classes, height, width)
    wh, reg = box_maps(g, batch, 2 * classes if cat_spec_wh else 2, height, width)
    got = run_both(heat, wh, reg if with_reg else None, device, K=k, cat_spec_wh=cat_spec_wh)
    scores = got[:, :, 4]
    assert (scores[:, :-1] >= scores[:, 1:]).all() and (got[:, :, 5] >= 0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("logits", [False, True])
def test_heat_dtypes_and_logits(dtype, logits, device, native):
    g = torch.Generator().manual_seed(3)
    heat = distinct_heat(g, 2, 6, 24, 20)
    if logits:
        heat = (heat - 0.5) * 24  # logits in [-12, 12], many saturating near p = 1
    wh, reg = box_maps(g, 2, 2, 24, 20)
    # half and bfloat16 quantise the values: ties appear and follow the index rule
    run_both(heat.to(dtype), wh, reg, device, K=64, logits=logits)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.7, 1.5, -1.0])
def test_threshold_marks_low_scores(threshold, device, native):
    g = torch.Generator().manual_seed(4)
    heat = distinct_heat(g, 2, 4, 16, 16)
    wh, reg = box_maps(g, 2, 2, 16, 16)
    got = run_both(heat, wh, reg, device, K=40, threshold=threshold)
    plain = ops.ctdet_decode(heat, wh, reg, K=40)
    low = got[:, :, 4] < threshold
    assert torch.equal(got[:, :, :5], plain[:, :, :5])
    assert (got[:, :, 5][low] == -1).all() and torch.equal(got[:, :, 5][~low], plain[:, :, 5][~low])
    # a threshold equal to a score keeps that row; one just above it drops it
    score = float(plain[0, 5, 4])
    assert run_both(heat, wh, reg, device, K=40, threshold=score)[0, 5, 5] >= 0
    above = torch.nextafter(torch.tensor(score), torch.tensor(2.0)).item()
    assert run_both(heat, wh, reg, device, K=40, threshold=above)[0, 5, 5] == -1


def test_hand_worked_rows(device, native):
    heat = torch.zeros(1, 2, 3, 4)
    heat[0, 0, 1, 2] = 0.9              # a single peak
    heat[0, 1, 0, 0] = heat[0, 1, 0, 1] = 0.5  # a plateau: both cells are peaks
    wh = torch.zeros(1, 2, 3, 4)
    wh[0, 0], wh[0, 1] = 2.0, 4.0
    got = run_both(heat, wh, None, device, K=5)
    expected = torch.tensor([[
        [1.5, -0.5, 3.5, 3.5, 0.9, 0.0],    # x = 2 + 0.5, y = 1 + 0.5, w = 2, h = 4
        [-0.5, -1.5, 1.5, 2.5, 0.5, 1.0],   # plateau, lower index first
        [0.5, -1.5, 2.5, 2.5, 0.5, 1.0],
        [-0.5, -1.5, 1.5, 2.5, 0.0, 0.0],   # then zero scores in flat-index order: cell 0, 1
        [0.5, -1.5, 2.5, 2.5, 0.0, 0.0],
    ]])
    expected[0, 0, 4] = heat[0, 0, 1, 2]  # 0.9 as float32
    assert torch.equal(got, expected)


TIES = {
    "all_zero": lambda g: torch.zeros(2, 3, 10, 12),
    "plateaus": lambda g: torch.randint(0, 3, (2, 3, 5, 6), generator=g).float().repeat_interleave(
        2, 2).repeat_interleave(2, 3) / 4,
    "quantised": lambda g: torch.randint(0, 5, (2, 3, 10, 12), generator=g).float() / 4,
    "negative": lambda g: -torch.rand(2, 3, 10, 12, generator=g),
    "mixed_sign": lambda g: torch.randn(2, 3, 10, 12, generator=g),
    "signed_zeros": lambda g: torch.where(torch.rand(2, 3, 10, 12, generator=g) < 0.5, 0.0, -0.0),
}


@pytest.mark.parametrize("k", [1, 7, 100, 360, 500])
@pytest.mark.parametrize("name", list(TIES))
def test_ties_follow_the_index_rule(name, k, device, native):
    g = torch.Generator().manual_seed(len(name))
    heat = TIES[name](g)
    wh, reg = box_maps(g, 2, 2, 10, 12)
    got = run_both(heat, wh, reg, device, K=k)
    assert not torch.signbit(got[:, :, 4]).any() or name in ("negative", "mixed_sign")


def test_saturated_logits_rank_by_probability(device, native):
    # logits above ~17 all give p = 1.0: they tie and come in index order, whatever the logit
    heat = torch.full((1, 2, 8, 8), -20.0)
    heat[0, 1, 1, 1], heat[0, 0, 6, 6], heat[0, 1, 5, 2], heat[0, 0, 2, 5] = 40.0, 30.0, 20.0, 18.0
    wh = torch.ones(1, 2, 8, 8)
    got = run_both(heat, wh, None, device, K=6, logits=True)
    assert got[0, :4, 4].tolist() == [1.0] * 4
    assert got[0, :4, 5].tolist() == [0.0, 0.0, 1.0, 1.0]  # class 0 first (lower flat index)
    assert got[0, 4, 4] == torch.sigmoid(torch.tensor(-20.0, dtype=torch.float64)).float()


def test_sigmoid_matches_float64_reference(device, native):
    # 1 x 1 maps: every cell is a peak, so every logit is scored
    logits = torch.cat([torch.linspace(-40, 40, 20001), torch.randn(20000) * 8,
                        torch.tensor([0.0, -0.0, 88.0, -88.0, 104.0, -104.0, 1e30, -1e30])])
    heat = logits.view(1, -1, 1, 1)
    got = run_both(heat, torch.zeros(1, 2, 1, 1), None, device, K=heat.shape[1], logits=True)
    expected = torch.sigmoid(logits.double()).float()
    assert torch.equal(got[0, :, 4], expected[got[0, :, 5].long()])


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (7, 1), (3, 3)])
@pytest.mark.parametrize("k", [1, 5, 40])
def test_small_maps_and_k_beyond_the_cells(size, k, device, native):
    g = torch.Generator().manual_seed(size[0] * 10 + size[1])
    heat = distinct_heat(g, 2, 3, *size)
    wh, reg = box_maps(g, 2, 2, *size)
    got = run_both(heat, wh, reg, device, K=k)
    cells = 3 * size[0] * size[1]
    if k > cells:
        tail = got[:, cells:]
        assert (tail[..., :5] == 0).all() and (tail[..., 5] == -1).all()


def test_nan_and_inf_in_heat(device, native):
    g = torch.Generator().manual_seed(8)
    heat = distinct_heat(g, 2, 3, 12, 12)
    heat[0, 0, 5, 5] = float("nan")   # its 3x3 window has no peak
    heat[0, 1, 0, 0] = float("nan")
    heat[1, 2, 7, 3] = float("inf")   # an infinite peak ranks first
    heat[1, 0, 2, 2] = float("-inf")
    wh, reg = box_maps(g, 2, 2, 12, 12)
    for logits in (False, True):
        got = run_both(heat, wh, reg, device, K=80, logits=logits)
        assert not got.isnan().any()
        assert got[1, 0, 4] == (1.0 if logits else float("inf"))


def test_non_contiguous_and_mixed_dtype_inputs(device, native):
    g = torch.Generator().manual_seed(9)
    heat = distinct_heat(g, 2, 4, 14, 18).contiguous(memory_format=torch.channels_last)
    wh = (torch.rand(2, 14, 18, 2, generator=g) * 30).double().permute(0, 3, 1, 2)
    reg = torch.rand(2, 2, 18, 14, generator=g).half().transpose(2, 3)
    assert not heat.is_contiguous() and not wh.is_contiguous() and not reg.is_contiguous()
    run_both(heat, wh, reg, device, K=30)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_cpu_result_does_not_depend_on_the_thread_count(threads, native):
    # the CPU kernel splits the planes into one run per thread, each with its own pruning bound
    g = torch.Generator().manual_seed(15)
    heat = torch.sigmoid(torch.randn(3, 7, 20, 24, generator=g) * 2 - 3)
    heat[1] = (heat[1] * 8).round() / 8  # ties across planes
    wh, reg = box_maps(g, 3, 2, 20, 24)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        for batch in (slice(0, 1), slice(0, 3)):
            for logits in (False, True):
                run_both(heat[batch], wh[batch], reg[batch], "cpu", K=30, logits=logits)
    finally:
        torch.set_num_threads(before)


def test_empty_batch(device, native):
    got = run_both(torch.zeros(0, 3, 8, 8), torch.zeros(0, 2, 8, 8), None, device, K=10)
    assert got.shape == (0, 10, 6)


@pytest.mark.parametrize("cat_spec_wh", [False, True])
def test_matches_original_decode_on_tie_free_maps(cat_spec_wh, device, native):
    g = torch.Generator().manual_seed(10)
    heat = distinct_heat(g, 3, 8, 64, 48)
    wh, reg = box_maps(g, 3, 16 if cat_spec_wh else 2, 64, 48)
    for with_reg in (True, False):
        r = reg if with_reg else None
        expected = original.ctdet_decode(heat, wh, r, cat_spec_wh=cat_spec_wh, K=100)
        got = ops.ctdet_decode(heat.to(device), wh.to(device), None if r is None else r.to(device),
                               K=100, cat_spec_wh=cat_spec_wh)
        assert torch.equal(got.cpu(), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("k", [1, 100, 2048, 2049, 5000])
def test_cuda_and_cpu_results_are_identical(k, native):
    g = torch.Generator().manual_seed(11)
    heat = torch.sigmoid(torch.randn(3, 80, 96, 128, generator=g) * 2 - 4)
    heat[1] = heat[1].half().float()  # ties
    wh, reg = box_maps(g, 3, 2, 96, 128)
    for logits in (False, True):
        cpu = ops.ctdet_decode(heat, wh, reg, K=k, logits=logits)
        cuda = ops.ctdet_decode(heat.cuda(), wh.cuda(), reg.cuda(), K=k, logits=logits)
        assert torch.equal(cuda.cpu(), cpu)


def _huge(*shape):
    return torch.zeros(1, 1, 1, 1).expand(*shape)


GOOD = dict(heat=torch.rand(2, 3, 8, 8), wh=torch.rand(2, 2, 8, 8), reg=torch.rand(2, 2, 8, 8))
BAD_ARGUMENTS = [
    (dict(heat=torch.rand(3, 8, 8)), "heat must have shape \\[B, C, H, W\\]"),
    (dict(heat=torch.rand(2, 3, 8, 8).double()), "heat must be float32, float16 or bfloat16"),
    (dict(heat=torch.zeros(2, 3, 8, 8, dtype=torch.int64)), "heat must be float32, float16 or"),
    (dict(heat=torch.rand(2, 3, 0, 8)), "with C, H, W >= 1"),
    (dict(heat=_huge(1, 2 ** 16, 2 ** 8, 2 ** 7)), "C \\* H \\* W must be below 2\\^31"),
    (dict(wh=torch.rand(2, 3, 8, 8)), "wh must have shape \\[B, 2, H, W\\] = \\[2, 2, 8, 8\\]"),
    (dict(wh=torch.rand(2, 2, 8, 8), cat_spec_wh=True),
     "wh must have shape \\[B, 2C, H, W\\] = \\[2, 6, 8, 8\\]"),
    (dict(wh=torch.rand(1, 2, 8, 8)), "to match heat"),
    (dict(wh=torch.rand(2, 2, 8, 9)), "to match heat"),
    (dict(wh=torch.rand(2, 2, 8)), "wh must have shape"),
    (dict(wh=torch.ones(2, 2, 8, 8, dtype=torch.int32)), "wh must be a floating-point tensor"),
    (dict(reg=torch.rand(2, 1, 8, 8)), "reg must have shape \\[B, 2, H, W\\]"),
    (dict(reg=torch.rand(2, 2, 7, 8)), "reg must have shape \\[B, 2, H, W\\] = \\[2, 2, 8, 8\\]"),
    (dict(reg=torch.ones(2, 2, 8, 8, dtype=torch.bool)), "reg must be a floating-point tensor"),
    (dict(K=0), "K must be at least 1"),
    (dict(K=-5), "K must be at least 1"),
]


@pytest.mark.parametrize("use_native", [True, False], ids=["native", "reference"])
@pytest.mark.parametrize("override, match", BAD_ARGUMENTS, ids=[m for _, m in BAD_ARGUMENTS])
def test_rejects_bad_arguments(override, match, use_native, request):
    impl = (request.getfixturevalue("native").ctdet_decode if use_native
            else reference.ctdet_decode)
    args = {**GOOD, **override}
    with pytest.raises(ValueError, match=match):
        impl(args["heat"], args["wh"], args["reg"], args.get("K", 100),
             args.get("cat_spec_wh", False), False, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_rejects_mixed_devices(native):
    with pytest.raises(ValueError, match="wh must be on the same device as heat"):
        native.ctdet_decode(GOOD["heat"].cuda(), GOOD["wh"], None)
    with pytest.raises(ValueError, match="reg must be on the same device as heat"):
        native.ctdet_decode(GOOD["heat"], GOOD["wh"], GOOD["reg"].cuda())


@pytest.mark.parametrize("with_reg", [True, False])
def test_opcheck(native, device, with_reg):
    g = torch.Generator().manual_seed(12)
    heat = distinct_heat(g, 2, 3, 10, 12).to(device)
    wh, reg = (t.to(device) for t in box_maps(g, 2, 2, 10, 12))
    torch.library.opcheck(native.ctdet_decode.default,
                          (heat, wh, reg if with_reg else None, 20, False, True, 0.5))


def decode_and_count(heat, wh, reg):
    dets = ops.ctdet_decode(heat, wh, reg, K=20, threshold=0.5)
    return dets, (dets[..., 5] >= 0).sum(dim=1)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiles_with_fullgraph(native, device, backend):
    g = torch.Generator().manual_seed(13)
    heat = distinct_heat(g, 2, 3, 16, 16).to(device)
    wh, reg = (t.to(device) for t in box_maps(g, 2, 2, 16, 16))
    compiled = torch.compile(decode_and_count, fullgraph=True, backend=backend)
    for got, expected in zip(compiled(heat, wh, reg), decode_and_count(heat, wh, reg)):
        assert torch.equal(got, expected)


def test_exports(native):
    class Decode(torch.nn.Module):
        def forward(self, heat, wh, reg):
            return decode_and_count(heat, wh, reg)

    g = torch.Generator().manual_seed(14)
    heat = distinct_heat(g, 2, 3, 16, 16)
    wh, reg = box_maps(g, 2, 2, 16, 16)
    exported = torch.export.export(Decode(), (heat, wh, reg))
    assert any(node.target == native.ctdet_decode.default for node in exported.graph.nodes)
    for got, expected in zip(exported.module()(heat, wh, reg), decode_and_count(heat, wh, reg)):
        assert torch.equal(got, expected)
