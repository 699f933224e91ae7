"""The light ``lite`` architecture: registry entry, output shapes, initialisation, checks."""

import pytest
import torch

from centernet_fast.models import ARCHITECTURES, create_model
from centernet_fast.models.heads import HEATMAP_BIAS
from centernet_fast.models.lite import CenterNetLite


def test_registered_with_64_channel_heads():
    assert ARCHITECTURES["lite"].default_head_conv == 64
    model = create_model("lite", {"hm": 3, "wh": 2, "reg": 2})
    assert isinstance(model, CenterNetLite) and model.training
    assert model.hm[0].weight.shape == (64, 64, 3, 3)
    assert torch.all(model.hm[2].bias == HEATMAP_BIAS) and torch.all(model.wh[2].bias == 0)
    assert sum(p.numel() for p in model.parameters()) < 4_000_000


@pytest.mark.parametrize("head_conv", [64, 0])
def test_stride_4_outputs_for_every_head(head_conv):
    torch.manual_seed(0)
    model = create_model("lite", {"hm": 5, "wh": 2, "reg": 2}, head_conv=head_conv)
    x = torch.randn(2, 3, 64, 96, requires_grad=True)
    (out,) = model(x)
    assert list(out) == ["hm", "wh", "reg"]
    assert out["hm"].shape == (2, 5, 16, 24) and out["wh"].shape == (2, 2, 16, 24)
    sum(v.sum() for v in out.values()).backward()
    assert model.stem[0][0].weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_channels_last_and_bfloat16_autocast_give_the_same_maps():
    torch.manual_seed(0)
    model = create_model("lite", {"hm": 3, "wh": 2}).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)[0]["hm"]
        cl = model.to(memory_format=torch.channels_last)(
            x.contiguous(memory_format=torch.channels_last))[0]["hm"]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(x)[0]["hm"]
    torch.testing.assert_close(cl, ref, rtol=1e-4, atol=1e-4)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), ref, rtol=0.05, atol=0.1)


def test_bad_input_and_options():
    model = create_model("lite", {"hm": 3})
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 3, 64, 70))
    with pytest.raises(ValueError, match="no pretrained backbone weights"):
        create_model("lite", {"hm": 3}, pretrained_backbone="weights.pth")
    with pytest.raises(ValueError, match="clashes"):
        create_model("lite", {"hm": 3, "stem": 2})
