"""The plain-PyTorch deform_conv2d (the specification) against torchvision's op and F.conv2d, and
its argument errors."""

import pytest
import torch
import torch.nn.functional as F

from centernet_fast.ops import reference
from deform_conv_cases import DCN_CASE, make_tensors, random_case, run

NAMES = ("input", "offset", "weight", "bias", "mask")


def assert_close_all(got, expected, atol, rtol=0.0):
    for name, a, b in zip(NAMES, got, expected):
        assert (a is None) == (b is None), name
        if a is not None:
            torch.testing.assert_close(a, b, atol=atol, rtol=rtol, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("seed", range(12))
def test_matches_torchvision_forward_and_gradients(seed):
    torchvision = pytest.importorskip("torchvision")
    case = random_case(seed)
    tensors = make_tensors(case, seed, offset_scale=3.0)
    out, grads = run(reference.deform_conv2d, case, tensors)
    tv_out, tv_grads = run(torchvision.ops.deform_conv2d, case, tensors)
    torch.testing.assert_close(out, tv_out, atol=1e-12, rtol=0)
    assert_close_all(grads, tv_grads, atol=1e-12)


@pytest.mark.parametrize("with_mask,with_bias", [(False, True), (True, False), (False, False)])
def test_optional_arguments_match_torchvision(with_mask, with_bias):
    torchvision = pytest.importorskip("torchvision")
    tensors = make_tensors(DCN_CASE, 5, with_mask=with_mask, with_bias=with_bias)
    out, grads = run(reference.deform_conv2d, DCN_CASE, tensors)
    tv_out, tv_grads = run(torchvision.ops.deform_conv2d, DCN_CASE, tensors)
    torch.testing.assert_close(out, tv_out, atol=1e-12, rtol=0)
    assert_close_all(grads, tv_grads, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_zero_offsets_and_unit_mask_equal_conv2d(seed):
    case = random_case(100 + seed)
    input, offset, weight, bias, mask = make_tensors(case, seed)
    out = reference.deform_conv2d(input, torch.zeros_like(offset), weight, bias, case.stride,
                                  case.padding, case.dilation, torch.ones_like(mask))
    expected = F.conv2d(input, weight, bias, case.stride, case.padding, case.dilation,
                        case.groups)
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=0)


def test_integer_offsets_shift_the_image():
    """An offset of exactly (1, -2) pixels samples the neighbour, zero past the border."""
    input = torch.arange(20.0, dtype=torch.float64).view(1, 1, 4, 5)
    weight = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    offset = torch.tensor([1.0, -2.0], dtype=torch.float64).view(1, 2, 1, 1).expand(1, 2, 4, 5)
    out = reference.deform_conv2d(input, offset, weight)
    expected = torch.zeros(4, 5, dtype=torch.float64)
    expected[:3, 2:] = input[0, 0, 1:, :3]
    torch.testing.assert_close(out[0, 0], expected, atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_is_computed_in_float32(dtype):
    tensors = make_tensors(DCN_CASE, 3, dtype=dtype)
    out = reference.deform_conv2d(*tensors[:4], 1, 1, 1, tensors[4])
    exact = reference.deform_conv2d(*[t.double() for t in tensors[:4]], 1, 1, 1,
                                    tensors[4].double())
    assert out.dtype == dtype
    torch.testing.assert_close(out.double(), exact, atol=0.05, rtol=0.01)


def error_cases():
    """(description, keyword changes to a valid DCN_CASE call, regex of the message)."""
    x, off, w, b, m = make_tensors(DCN_CASE, 0)
    return [
        ("input rank", dict(input=x[0]), r"input must have shape \[B, C, H, W\]"),
        ("input dtype", dict(input=x.long()), "input must be float32"),
        ("offset channels", dict(offset=off[:, :17]),
         r"offset channels \(17\) must be a positive multiple of 2 \* kh \* kw = 18"),
        ("offset size", dict(offset=off[:, :, :4]), r"offset must have shape .* got \[2, 18, 4"),
        ("offset batch", dict(offset=off[:1]), "offset must have shape"),
        ("mask channels", dict(mask=m[:, :8]), r"mask must have shape \[B, offset_groups"),
        ("mask dtype", dict(mask=m.float()), "mask must have the input's dtype"),
        ("weight dtype", dict(weight=w.float()), "weight must have the input's dtype"),
        ("weight groups", dict(weight=w[:, :3]),
         r"input channels \(8\) must be a multiple of weight.shape\[1\] \(3\)"),
        ("out groups", dict(weight=w[:5, :4]),
         r"weight.shape\[0\] \(5\) must be a multiple of the conv groups \(2"),
        ("offset groups", dict(offset=torch.zeros(2, 54, 9, 11, dtype=torch.float64)),
         r"multiple of the offset groups \(3"),
        ("bias shape", dict(bias=b[:3]), r"bias must have shape \[C_out\] = \[6\]"),
        ("stride", dict(stride=0), "stride must be positive"),
        ("padding", dict(padding=(1, -1)), "padding must be non-negative"),
        ("dilation", dict(dilation=(0, 1)), "dilation must be positive"),
        ("stride pair", dict(stride=(1, 2, 3)), "stride must be an int or two ints"),
        ("empty output", dict(padding=0, input=x[:, :, :2]), r"the output would be empty"),
        ("meta device", dict(offset=off.to("meta")), "offset must be on the input's device"),
    ]


@pytest.mark.parametrize("changes,message", [c[1:] for c in error_cases()],
                         ids=[c[0] for c in error_cases()])
def test_bad_arguments_raise_value_error_naming_them(changes, message):
    x, off, w, b, m = make_tensors(DCN_CASE, 0)
    kwargs = dict(input=x, offset=off, weight=w, bias=b, stride=1, padding=1, dilation=1, mask=m)
    kwargs.update(changes)
    with pytest.raises(ValueError, match=message):
        reference.deform_conv2d(**kwargs)
