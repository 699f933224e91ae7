"""gaussian_radius against the original CenterNet formula and the corrected derivation."""

import math

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import original, reference

# Box sizes whose original radius is an exact integer, and ones just above an integer: a different
# order of operations (or a fused multiply-add) lands on the other side and truncates wrongly.
INTEGRAL_RADIUS_SIZES = [(14, 95, 7), (20, 35, 7), (35, 90, 14), (40, 70, 14), (42, 65, 14),
                         (70, 85, 21), (100, 105, 28), (42, 285, 21)]
NEAR_INTEGRAL_SIZES = [(15, 70), (30, 140), (60, 105), (110, 245)]


def corrected_radius_python(height, width, min_overlap):
    """The corrected derivation (mmdetection) on Python floats, as an independent oracle."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 - math.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 - math.sqrt(b2 ** 2 - 16 * c2)) / 8
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / (2 * a3)
    return min(r1, r2, r3)


@pytest.fixture(params=["op", "reference"])
def radius_impl(request):
    """The compiled op (which needs the extension: the fallback would test the reference
    twice) or the reference."""
    if request.param == "op":
        request.getfixturevalue("native")
        return ops.gaussian_radius
    return reference.gaussian_radius


def integer_grid(n, device):
    sizes = torch.arange(1, n + 1, dtype=torch.float64, device=device)
    return torch.meshgrid(sizes, sizes, indexing="ij")


def test_matches_original_on_all_integer_sizes(radius_impl, device):
    h, w = integer_grid(160, device)
    got = radius_impl(h, w).cpu()
    expected = torch.tensor([[original.gaussian_radius((i, j)) for j in range(1, 161)]
                             for i in range(1, 161)], dtype=torch.float64)
    assert torch.equal(got, expected)


def test_matches_original_on_random_float_sizes(radius_impl, device):
    g = torch.Generator().manual_seed(0)
    h = torch.rand(2000, generator=g, dtype=torch.float64) * 500 + 0.01
    w = torch.rand(2000, generator=g, dtype=torch.float64) * 500 + 0.01
    overlap = 0.55
    got = radius_impl(h.to(device), w.to(device), overlap).cpu()
    expected = torch.tensor([original.gaussian_radius((a, b), overlap)
                             for a, b in zip(h.tolist(), w.tolist())], dtype=torch.float64)
    assert torch.equal(got, expected)


def test_exactly_integral_radii_truncate_like_the_original(radius_impl, device):
    h = torch.tensor([s[0] for s in INTEGRAL_RADIUS_SIZES], dtype=torch.float64, device=device)
    w = torch.tensor([s[1] for s in INTEGRAL_RADIUS_SIZES], dtype=torch.float64, device=device)
    got = radius_impl(h, w).cpu()
    assert got.tolist() == [float(s[2]) for s in INTEGRAL_RADIUS_SIZES]
    near_h = torch.tensor([s[0] for s in NEAR_INTEGRAL_SIZES], dtype=torch.float64, device=device)
    near_w = torch.tensor([s[1] for s in NEAR_INTEGRAL_SIZES], dtype=torch.float64, device=device)
    near = radius_impl(near_h, near_w).cpu().tolist()
    assert near == [original.gaussian_radius(s) for s in NEAR_INTEGRAL_SIZES]
    assert all(r != int(r) for r in near)


def test_corrected_mode_matches_the_corrected_derivation(radius_impl, device):
    h, w = integer_grid(64, device)
    got = radius_impl(h, w, 0.3, "corrected").cpu()
    expected = torch.tensor([[corrected_radius_python(float(i), float(j), 0.3)
                              for j in range(1, 65)] for i in range(1, 65)], dtype=torch.float64)
    assert torch.equal(got, expected)
    # The corrected radius is the smaller, conservative one.
    assert bool((got <= radius_impl(h, w, 0.3).cpu()).all())


def test_broadcasts_numbers_and_integer_dtypes(device, native):
    heights = torch.arange(1, 6, device=device)  # int64
    got = ops.gaussian_radius(heights.view(-1, 1), torch.tensor([7, 9], device=device))
    assert got.shape == (5, 2) and got.dtype == torch.float64
    assert got[2, 1].item() == original.gaussian_radius((3, 9))
    assert ops.gaussian_radius(12.5, 40.25).item() == original.gaussian_radius((12.5, 40.25))


def test_empty_input(device, native):
    empty = torch.empty(0, 3, device=device)
    assert ops.gaussian_radius(empty, empty).shape == (0, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"min_overlap": 1.0}, "min_overlap must be in the open interval"),
    ({"min_overlap": 0.0}, "min_overlap must be in the open interval"),
    ({"mode": "elliptical"}, "mode must be one of 'centernet', 'corrected'"),
])
def test_rejects_bad_arguments(radius_impl, kwargs, match):
    with pytest.raises(ValueError, match=match):
        radius_impl(torch.ones(3), torch.ones(3), **kwargs)


@pytest.mark.parametrize("use_native", [True, False])
def test_rejects_bad_tensors(use_native, request):
    impl = (request.getfixturevalue("native").gaussian_radius if use_native
            else reference.gaussian_radius)
    with pytest.raises(ValueError, match="height and width must have the same shape"):
        impl(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="height must be a real"):
        impl(torch.ones(3, dtype=torch.bool), torch.ones(3))


def test_opcheck(native, device):
    h = torch.rand(4, 5, dtype=torch.float64) * 50 + 1
    w = torch.rand(4, 5, dtype=torch.float64) * 50 + 1
    torch.library.opcheck(native.gaussian_radius.default,
                          (h.to(device), w.to(device), 0.7, "corrected"))
