"""create_model: the architecture registry, default head_conv, argument checks."""

import pytest
import torch
from torch import nn

from centernet_fast.models import ARCHITECTURES, CenterNetDLA, create_model
from centernet_fast.models.factory import Architecture
from model_manifest import assert_matches_manifest, load_manifest, manifest_names


@pytest.mark.parametrize("name", manifest_names())
def test_every_original_model_through_create_model(name):
    """create_model(arch, heads, head_conv) of each original model has its exact state_dict
    (built on the meta device: shapes without memory, so Hourglass-104 costs nothing)."""
    manifest = load_manifest(name)
    with torch.device("meta"):
        model = create_model(manifest["arch"], manifest["heads"], manifest["head_conv"])
    assert_matches_manifest(model, manifest)


@pytest.mark.parametrize("arch, head_conv", [("dla_34", 256), ("res_18", 64), ("resdcn_101", 64),
                                             ("hourglass", 256)])
def test_default_head_conv_is_the_original(arch, head_conv):
    assert ARCHITECTURES[arch].default_head_conv == head_conv


def test_dla_34_is_registered_with_the_original_default_head_conv():
    assert ARCHITECTURES["dla_34"] == Architecture(CenterNetDLA, 256, 32)
    model = create_model("dla_34", {"hm": 80, "wh": 2, "reg": 2})
    assert isinstance(model, CenterNetDLA) and model.training
    assert model.hm[0].weight.shape == (256, 64, 3, 3)
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in model.parameters())


@pytest.mark.parametrize("head_conv, hidden", [(64, 64), (0, None)])
def test_explicit_head_conv(head_conv, hidden):
    model = create_model("dla_34", {"hm": 3, "wh": 2}, head_conv=head_conv)
    if hidden is None:
        assert list(model.hm.state_dict()) == ["weight", "bias"]  # the original's bare conv
        assert model.hm.weight.shape == (3, 64, 1, 1)
    else:
        assert model.wh[0].weight.shape == (hidden, 64, 3, 3)


def test_adding_an_architecture_is_one_entry(monkeypatch):
    calls = []

    def builder(heads, head_conv, pretrained_backbone):
        calls.append((heads, head_conv, pretrained_backbone))
        return nn.Identity()

    monkeypatch.setitem(ARCHITECTURES, "toy_18", Architecture(builder, 64, 32))
    assert isinstance(create_model("toy_18", {"hm": 2}), nn.Identity)
    create_model("toy_18", {"hm": 2}, head_conv=32, pretrained_backbone="weights.pth")
    assert calls == [({"hm": 2}, 64, None), ({"hm": 2}, 32, "weights.pth")]


@pytest.mark.parametrize("arch", ["dla_34", "resdcn_18", "res_18", "hourglass", "lite"])
def test_size_divisibility_is_the_models(arch):
    """The registry's input multiple is the one the built model checks and needs."""
    multiple = ARCHITECTURES[arch].size_divisibility
    assert multiple == (128 if arch == "hourglass" else 32)
    model = create_model(arch, {"hm": 1}).eval()
    assert model.size_divisibility == multiple
    if arch != "hourglass":  # Hourglass-104 at 128 px is slow on 2 cores; its own tests run it
        with torch.no_grad():
            (out,) = model(torch.zeros(1, 3, multiple, 2 * multiple))
        assert out["hm"].shape == (1, 1, multiple // 4, multiple // 2)
    with pytest.raises(ValueError, match=f"multiples of {multiple}"):
        model(torch.zeros(1, 3, multiple + multiple // 2, multiple))


@pytest.mark.parametrize("arch", ["dla_18", "DLA_34", None, ""])
def test_unknown_arch_lists_the_known_ones(arch):
    with pytest.raises(ValueError, match=r"unknown arch .*known: .*dla_34"):
        create_model(arch, {"hm": 80})


@pytest.mark.parametrize("heads, match", [
    ({}, "non-empty dict"), (None, "non-empty dict"), ({"hm": 0}, r"heads\['hm'\]"),
    ({"hm": 80, "wh": "2"}, r"heads\['wh'\]"), ({"hm": 3, "base": 2}, "clashes"),
])
def test_bad_heads(heads, match):
    with pytest.raises(ValueError, match=match):
        create_model("dla_34", heads)


@pytest.mark.parametrize("head_conv", [-1, 2.5, True, "256"])
def test_bad_head_conv(head_conv):
    with pytest.raises(ValueError, match=r"head_conv must be an int >= 0 .*256 for dla_34"):
        create_model("dla_34", {"hm": 80}, head_conv=head_conv)
