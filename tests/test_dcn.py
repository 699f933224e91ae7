"""The DCN and ModulatedDeformConv2d layers: original parameter names, shapes and initialisation,
and their forward against the reference."""

import json
import math
from pathlib import Path

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import reference

FIXTURES = Path(__file__).parent / "data" / "centernet_original"


def original_dcn_parameters():
    """(prefix, {name: shape}) of every DCN layer in the original checkpoints' key lists."""
    layers = {}
    for path in sorted(FIXTURES.glob("*.json")):
        entries = {e["key"]: e["shape"] for e in json.loads(path.read_text())["state_dict"]}
        for key in entries:
            if key.endswith(".conv_offset_mask.weight"):
                prefix = key[:-len("conv_offset_mask.weight")]
                names = ("weight", "bias", "conv_offset_mask.weight", "conv_offset_mask.bias")
                layers[(path.stem, prefix)] = {n: entries[prefix + n] for n in names}
    return layers


def test_parameters_match_the_original_checkpoints():
    layers = original_dcn_parameters()
    assert layers
    for (_, prefix), params in layers.items():
        out_channels, in_channels, kh, kw = params["weight"]
        layer = ops.DCN(in_channels, out_channels, (kh, kw), stride=1, padding=1)
        state = {k: list(v.shape) for k, v in layer.state_dict().items()}
        assert state == params, prefix
        layer.load_state_dict({k: torch.zeros(v) for k, v in params.items()})


def test_dcn_initialisation():
    torch.manual_seed(0)
    layer = ops.DCN(64, 32, 3, padding=1)
    stdv = 1 / math.sqrt(64 * 9)
    assert layer.weight.abs().max() <= stdv and layer.weight.abs().max() > 0.9 * stdv
    assert not layer.bias.any()
    assert not layer.conv_offset_mask.weight.any() and not layer.conv_offset_mask.bias.any()
    assert layer.conv_offset_mask.weight.shape == (27, 64, 3, 3)


def test_dcn_forward_matches_reference():
    torch.manual_seed(1)
    layer = ops.DCN(6, 4, 3, padding=1, deformable_groups=2).double()
    with torch.no_grad():
        layer.conv_offset_mask.weight.normal_(0, 0.5)
        layer.conv_offset_mask.bias.normal_(0, 0.5)
    x = torch.randn(2, 6, 7, 9, dtype=torch.float64)
    out = layer.conv_offset_mask(x)
    expected = reference.deform_conv2d(x, out[:, :36], layer.weight, layer.bias, 1, 1, 1,
                                       torch.sigmoid(out[:, 36:]))
    torch.testing.assert_close(layer(x), expected, atol=1e-10, rtol=0)


def test_zero_initialised_dcn_is_half_a_convolution():
    """Offsets 0 and mask sigmoid(0) = 1/2 at initialisation."""
    layer = ops.DCN(5, 3, 3, padding=1).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(1, 5, 6, 8, dtype=torch.float64)
    expected = torch.nn.functional.conv2d(x, layer.weight / 2, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), expected, atol=1e-10, rtol=0)


def test_modulated_deform_conv2d_groups_and_no_bias():
    layer = ops.ModulatedDeformConv2d(6, 4, (3, 2), stride=2, padding=(1, 0), groups=2,
                                      bias=False).double()
    assert layer.bias is None and layer.weight.shape == (4, 3, 3, 2)
    x = torch.randn(2, 6, 9, 8, dtype=torch.float64)
    offset = torch.randn(2, 12, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x, offset),
                               reference.deform_conv2d(x, offset, layer.weight, None, 2, (1, 0)),
                               atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="multiples of groups"):
        ops.ModulatedDeformConv2d(5, 4, 3, groups=2)


def test_dcn_with_dilation_matches_reference():
    """The offset convolution takes the layer's dilation, so that its map has the output's size
    (the original layer ignored it and failed for any dilation but 1)."""
    torch.manual_seed(2)
    layer = ops.DCN(4, 3, 3, padding=2, dilation=2).double()
    assert layer.conv_offset_mask.dilation == (2, 2)
    with torch.no_grad():
        layer.conv_offset_mask.weight.normal_(0, 0.5)
    x = torch.randn(2, 4, 9, 7, dtype=torch.float64)
    out = layer.conv_offset_mask(x)
    expected = reference.deform_conv2d(x, out[:, :18], layer.weight, layer.bias, 1, 2, 2,
                                       torch.sigmoid(out[:, 18:]), border_rule="dcnv2")
    torch.testing.assert_close(layer(x), expected, atol=1e-10, rtol=0)


def scripted_call(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor):
    """ops.deform_conv2d under TorchScript, with each accepted form of the pair arguments."""
    a = ops.deform_conv2d(x, offset, weight, None, 1, (1, 1), [1, 1])
    b = ops.deform_conv2d(x, offset, weight, stride=[1, 1], padding=1, dilation=(1, 1),
                          border_rule="dcnv2")
    return a, b


def test_torchscript(native):
    torch.manual_seed(3)
    x = torch.randn(2, 4, 6, 7, dtype=torch.float64, requires_grad=True)
    for layer in (ops.DCN(4, 3, 3, padding=1, deformable_groups=2),
                  ops.DCN(4, 3, 3, padding=1, border_rule="torchvision")):
        layer = layer.double()
        with torch.no_grad():
            layer.conv_offset_mask.weight.normal_(0, 0.3)
        scripted = torch.jit.script(layer)
        out, eager = scripted(x), layer(x)
        torch.testing.assert_close(out, eager, atol=0, rtol=0)
        (grad,) = torch.autograd.grad(out.sum(), x)
        (eager_grad,) = torch.autograd.grad(eager.sum(), x)
        torch.testing.assert_close(grad, eager_grad, atol=0, rtol=0)
    plain = torch.jit.script(ops.ModulatedDeformConv2d(4, 3, 3, padding=1, bias=False).double())
    offset = torch.randn(2, 18, 6, 7, dtype=torch.float64)
    expected = reference.deform_conv2d(x, offset, plain.weight, None, 1, 1, 1)
    torch.testing.assert_close(plain(x, offset), expected, atol=1e-10, rtol=0)
    weight = torch.randn(3, 4, 3, 3, dtype=torch.float64)
    a, b = torch.jit.script(scripted_call)(x, offset, weight)
    expected = reference.deform_conv2d(x, offset, weight, None, 1, 1, 1)
    torch.testing.assert_close(a, expected, atol=1e-10, rtol=0)
    torch.testing.assert_close(b, expected, atol=1e-10, rtol=0)
