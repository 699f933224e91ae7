"""CenterNet Hourglass-104: original structure, head initialisation, two-stack outputs, argument
checks. The model (191M parameters) is built once for the module."""

import pytest
import torch

from centernet_fast.models.heads import HEATMAP_BIAS
from centernet_fast.models.hourglass import Residual, hourglass_centernet
from model_manifest import assert_matches_manifest, load_manifest

MANIFEST = load_manifest("ctdet_hourglass")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    # head_conv=64 as the original run that produced the manifest; it is ignored (256 wide)
    return hourglass_centernet(MANIFEST["heads"], MANIFEST["head_conv"])


def test_matches_original_manifest(model):
    assert MANIFEST["head_conv"] == 64 and MANIFEST["effective_head_hidden_channels"] == 256
    assert_matches_manifest(model, MANIFEST)


def test_structure(model):
    assert len(model.kps) == len(model.cnvs) == 2
    assert len(model.inters) == len(model.inters_) == len(model.cnvs_) == 1
    # five levels of 256, 256, 384, 384, 384 channels down to 512 at the bottom
    level, channels = model.kps[0], []
    while isinstance(level, type(model.kps[0])):
        channels.append(level.low1[0].conv1.in_channels)
        level = level.low2
    assert channels == [256, 256, 384, 384, 384]
    assert len(level) == 4 and all(isinstance(r, Residual) for r in level)
    assert level[0].conv1.in_channels == level[-1].conv2.out_channels == 512
    assert model.hm[1][0].conv.weight.shape == (256, 256, 3, 3)


def test_heads_init(model):
    for s in range(2):
        assert torch.all(model.hm[s][1].bias == HEATMAP_BIAS)
        # regression heads keep PyTorch's default init (uniform, bound 1/sqrt(fan_in))
        for name in ("wh", "reg"):
            last = getattr(model, name)[s][1]
            assert not torch.all(last.bias == 0)
            assert last.weight.abs().max().item() <= 1 / 256 ** 0.5
            assert last.weight.std().item() > 0.01


def test_eval_forward_two_stacks(model):
    model.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 128))
    assert isinstance(out, list) and len(out) == 2
    for stack in out:
        assert list(stack) == list(MANIFEST["heads"])
        for name, channels in MANIFEST["heads"].items():
            assert stack[name].shape == (1, channels, 32, 32)
            assert stack[name].dtype == torch.float32 and torch.isfinite(stack[name]).all()
    # two different stacks (own weights, own inputs), not one output repeated
    assert not torch.allclose(out[0]["hm"], out[1]["hm"])


def test_training_forward_two_stacks(model):
    model.train()
    torch.manual_seed(2)
    # batch 1 at 128 x 256: the bottom level is 1 x 2, enough values for batch-norm statistics
    with torch.no_grad():
        out = model(torch.randn(1, 3, 128, 256))
    model.eval()
    assert len(out) == 2
    assert [{k: tuple(v.shape) for k, v in o.items()} for o in out] == \
        [{k: (1, c, 32, 64) for k, c in MANIFEST["heads"].items()}] * 2


def test_bad_input(model):
    with pytest.raises(ValueError, match=r"multiples of 128, got 64 x 64"):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"images \[B, 3, H, W\], got \(1, 1, 128, 128\)"):
        model(torch.randn(1, 1, 128, 128))


def test_bad_arguments():
    # these fail before anything is built
    with pytest.raises(ValueError, match="pretrained_backbone must be None"):
        hourglass_centernet({"hm": 80}, 256, pretrained_backbone="imagenet.pth")
    with pytest.raises(ValueError, match="head_conv must be an int or None"):
        hourglass_centernet({"hm": 80}, "256")
    with pytest.raises(ValueError, match="non-empty dict"):
        hourglass_centernet({}, 256)
