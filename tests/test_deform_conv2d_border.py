"""deform_conv2d's two offset-gradient rules at the border of the sampled region: "torchvision"
(the bilinear formula's one-sided derivative on y = -1 and x = -1) and "dcnv2" (zero outside
(-1, H) x (-1, W), as the original DCNv2 and mmcv), against the reference written from each rule,
on the points where they differ."""

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import reference
from deform_conv_cases import DCN_CASE, SMALL, border_tensors, make_tensors, run

RULES = ["torchvision", "dcnv2"]


def with_rule(fn, rule):
    return lambda *args: fn(*args, border_rule=rule)


def test_the_issue_repro():
    x = torch.tensor([[[[1.0, 2.0, 3.0]] * 3]])
    expected = {"torchvision": [0.0, 0.5, 1.0, 1.5], "dcnv2": [0.0, 0.0, 0.0, 0.0]}
    for rule in RULES:
        for fn in (ops.deform_conv2d, reference.deform_conv2d):
            off = torch.zeros(1, 8, 4, 4, requires_grad=True)
            fn(x, off, torch.ones(1, 1, 2, 2), padding=1, mask=torch.full((1, 4, 4, 4), 0.5),
               border_rule=rule).sum().backward()
            assert off.grad[0, 0, 0].tolist() == expected[rule], (rule, fn.__module__)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("case", [SMALL, DCN_CASE], ids=["2x2-pad1", "3x3-pad1"])
@pytest.mark.parametrize("seed", range(3))
def test_matches_the_reference_of_each_rule(case, seed, rule, device, native):
    tensors = border_tensors(case, seed)
    out, grads = run(with_rule(ops.deform_conv2d, rule), case,
                     [t.to(device) for t in tensors])
    ref_out, ref_grads = run(with_rule(reference.deform_conv2d, rule), case, tensors)
    torch.testing.assert_close(out.cpu(), ref_out, atol=1e-10, rtol=0)
    for name, got, want in zip(["input", "offset", "weight", "bias", "mask"], grads, ref_grads):
        torch.testing.assert_close(got.cpu(), want, atol=1e-10, rtol=0, msg=name)


def sampling_positions(case, offset):
    """(y, x) of every sampling point, [B, dg, taps, H_out, W_out] each (stride 1, dilation 1)."""
    (kh, kw), (ph, pw) = case.kernel, case.padding
    b, _, out_h, out_w = offset.shape
    off = offset.reshape(b, -1, kh * kw, 2, out_h, out_w)
    i = torch.arange(kh).repeat_interleave(kw).view(-1, 1, 1)
    j = torch.arange(kw).repeat(kh).view(-1, 1, 1)
    y = torch.arange(out_h).view(1, -1, 1) - ph + i + off[:, :, :, 0]
    x = torch.arange(out_w).view(1, 1, -1) - pw + j + off[:, :, :, 1]
    return y, x


def test_the_rules_differ_only_in_the_offset_gradient_on_the_minus_one_lines(native):
    tensors = border_tensors(DCN_CASE, 5)
    tv_out, tv = run(with_rule(ops.deform_conv2d, "torchvision"), DCN_CASE, tensors)
    d_out, d = run(with_rule(ops.deform_conv2d, "dcnv2"), DCN_CASE, tensors)
    assert torch.equal(tv_out, d_out)
    for k in (0, 2, 3, 4):  # input, weight, bias, mask
        assert torch.equal(tv[k], d[k]), k
    y, x = sampling_positions(DCN_CASE, tensors[1])
    inside = (y > -1) & (y < DCN_CASE.height) & (x > -1) & (x < DCN_CASE.width)
    on_minus_one = ((y == -1) | (x == -1)) & ~inside
    grad_tv = tv[1].reshape(y.shape[:3] + (2,) + y.shape[3:])
    grad_d = d[1].reshape(grad_tv.shape)
    differ = (grad_tv != grad_d).any(dim=3)
    assert differ.any(), "the case has no point where the rules differ"
    assert not (differ & ~on_minus_one).any()
    assert not grad_d.masked_select(~inside.unsqueeze(3)).any()
    # The asymmetric side: on y = H (or x = W), every neighbour is outside and the bilinear
    # formula's derivative is 0 too, under both rules.
    on_far_side = ((y == DCN_CASE.height) | (x == DCN_CASE.width)) & ~on_minus_one
    assert on_far_side.any()
    assert not grad_tv.masked_select(on_far_side.unsqueeze(3)).any()


@pytest.mark.parametrize("rule", RULES)
def test_opcheck(rule, device, native):
    tensors = [t.to(device).requires_grad_(True) for t in border_tensors(DCN_CASE, 2)]
    input, offset, weight, bias, mask = tensors
    args = (input, offset, weight, bias, [1, 1], [1, 1], [1, 1], mask, rule)
    torch.library.opcheck(torch.ops.centernet_fast.deform_conv2d.default, args)


def test_an_unknown_rule_raises_value_error_naming_it(native):
    x, off, w, b, m = make_tensors(DCN_CASE, 0)
    message = "border_rule must be one of 'torchvision', 'dcnv2'; got 'mmcv'"
    calls = [
        lambda: ops.deform_conv2d(x, off, w, b, 1, 1, 1, m, border_rule="mmcv"),
        lambda: reference.deform_conv2d(x, off, w, b, 1, 1, 1, m, border_rule="mmcv"),
        lambda: torch.ops.centernet_fast.deform_conv2d(x.to("meta"), off.to("meta"),
                                                       w.to("meta"), None, [1, 1], [1, 1],
                                                       [1, 1], None, "mmcv"),
        lambda: torch.ops.centernet_fast.deform_conv2d_backward(
            torch.zeros(2, 6, 9, 11, dtype=x.dtype), x, off, w, m, [1, 1], [1, 1], [1, 1],
            [True, True, True], "mmcv"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match="DCN: border_rule must be one of"):
        ops.DCN(4, 4, 3, padding=1, border_rule="mmcv")


def test_the_layers_use_the_dcnv2_rule_by_default(native):
    """The CenterNet layer at initialisation (offsets 0, padding 1): the outer ring of taps on
    -1 gets no offset gradient, as in the original DCNv2 layer; "torchvision" on request."""
    x = torch.randn(1, 3, 5, 6, dtype=torch.float64)
    grads = {}
    for rule in (None, "torchvision"):
        torch.manual_seed(0)
        layer = (ops.DCN(3, 2, 3, padding=1) if rule is None
                 else ops.DCN(3, 2, 3, padding=1, border_rule=rule)).double()
        assert layer.border_rule == (rule or "dcnv2")
        layer(x).sum().backward()
        grads[rule] = layer.conv_offset_mask.bias.grad[:18]  # the offsets' bias
    torch.manual_seed(0)
    plain = ops.ModulatedDeformConv2d(3, 2, 3, padding=1)
    assert plain.border_rule == "dcnv2"
    assert not torch.equal(grads[None], grads["torchvision"])


def test_the_default_rule_is_torchvisions(native):
    torchvision = pytest.importorskip("torchvision")
    tensors = border_tensors(DCN_CASE, 4)
    out, grads = run(ops.deform_conv2d, DCN_CASE, tensors)
    tv_out, tv_grads = run(torchvision.ops.deform_conv2d, DCN_CASE, tensors)
    torch.testing.assert_close(out, tv_out, atol=1e-10, rtol=0)
    for name, got, want in zip(["input", "offset", "weight", "bias", "mask"], grads, tv_grads):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0, msg=name)
