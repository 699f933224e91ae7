"""CenterNet output heads: layer structure, initialisation per architecture, input checks."""

import pytest
import torch

from centernet_fast.models.heads import HEATMAP_BIAS, check_heads, init_head, make_head


def test_head_structure_and_keys():
    head = make_head(64, 256, 80)
    assert [k for k in head.state_dict()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert head(torch.randn(2, 64, 8, 8)).shape == (2, 80, 8, 8)
    assert list(make_head(64, 0, 2).state_dict()) == ["weight", "bias"]


@pytest.mark.parametrize("regression_init", ["zero_bias", "normal", "default"])
def test_heatmap_bias_and_regression_init(regression_init):
    torch.manual_seed(0)
    hm, wh = make_head(64, 64, 80), make_head(64, 64, 2)
    default_bias = wh[0].bias.clone()
    init_head("hm", hm, regression_init)
    init_head("wh", wh, regression_init)
    assert torch.all(hm[2].bias == HEATMAP_BIAS)
    assert torch.sigmoid(torch.tensor(HEATMAP_BIAS)).item() == pytest.approx(0.1, abs=2e-3)
    if regression_init == "default":
        assert torch.equal(wh[0].bias, default_bias)
    else:
        assert torch.all(wh[0].bias == 0) and torch.all(wh[2].bias == 0)
    if regression_init == "normal":
        assert 0.0005 < wh[0].weight.std().item() < 0.002


def test_keypoint_heatmap_head_gets_the_prior_bias():
    head = make_head(8, 8, 17)
    init_head("hm_hp", head, "normal")
    assert torch.all(head[2].bias == HEATMAP_BIAS)


@pytest.mark.parametrize("heads, match", [
    ({}, "non-empty dict"), ([("hm", 80)], "non-empty dict"), ({"hm": 0}, r"heads\['hm'\]"),
    ({"hm": 2.0}, r"heads\['hm'\]"), ({"hm": True}, r"heads\['hm'\]"), ({"h m": 1}, "identifiers"),
])
def test_bad_heads(heads, match):
    with pytest.raises(ValueError, match=match):
        check_heads(heads)


def test_bad_init():
    with pytest.raises(ValueError, match="regression_init"):
        init_head("wh", make_head(4, 4, 2), "xavier")
    with pytest.raises(ValueError, match="no Conv2d"):
        init_head("wh", torch.nn.ReLU(), "normal")
