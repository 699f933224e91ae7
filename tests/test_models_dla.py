"""CenterNet DLA-34: the original structure (keys, shapes, counts, DCN layers, output shapes),
the original forward wiring, initialisation, upsampling weights, ImageNet backbone loading and
input checks."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from centernet_fast import ops
from centernet_fast.models import CenterNetDLA, CheckpointError, create_model
from centernet_fast.models.dla import dla34
from centernet_fast.models.heads import HEATMAP_BIAS
from centernet_fast.models.upsample import bilinear_kernel, bilinear_upsample
from model_fixtures import SMALL_HEADS, small_model
from model_manifest import assert_matches_manifest, load_manifest


@pytest.mark.parametrize("name", ["ctdet_dla_34", "multi_pose_dla_34"])
def test_state_dict_matches_the_original(name):
    manifest = load_manifest(name)
    assert manifest["head_conv"] == 256
    assert_matches_manifest(create_model("dla_34", manifest["heads"]), manifest)  # default
    assert_matches_manifest(CenterNetDLA(manifest["heads"], head_conv=256), manifest)


def test_forward_at_512_matches_the_original_shapes():
    """Output shapes and, through hooks, the input and output shape of every DCN layer, in the
    original's module order, for a 1 x 3 x 512 x 512 input."""
    manifest = load_manifest("ctdet_dla_34")
    model = create_model("dla_34", manifest["heads"]).eval()
    seen = []
    for name, m in model.named_modules():
        if isinstance(m, ops.DCN):
            m.register_forward_hook(lambda m, args, out, name=name: seen.append(dict(
                module=name, in_channels=m.in_channels, out_channels=m.out_channels,
                input_shape_NCHW=list(args[0].shape), output_shape_NCHW=list(out.shape))))
    with torch.no_grad():
        out = model(torch.randn(manifest["forward_input_shape"]))
    assert [{k: list(v.shape) for k, v in stack.items()} for stack in out] == \
        manifest["forward_output_shapes_per_stack"]
    keys = ["module", "in_channels", "out_channels", "input_shape_NCHW", "output_shape_NCHW"]
    assert seen == [{k: layer[k] for k in keys} for layer in manifest["dcn_layers"]]


def original_forward(model, x):
    """DLASeg's forward as the original writes it: six backbone levels in one list that each IDA
    pass overwrites in place by index (``IDAUp(layers, startp, endp)``), trees that append to
    a shared ``children`` list and compute every projection."""

    def tree(t, x, children=None):
        children = [] if children is None else children
        bottom = t.downsample(x) if t.downsample is not None else x
        residual = t.project(bottom) if t.project is not None else bottom
        if t.level_root:
            children.append(bottom)
        if t.levels == 1:
            x1 = t.tree1(x, residual)
            x2 = t.tree2(x1, x1)
            return t.root([x2, x1, *children])
        x1 = tree(t.tree1, x)
        children.append(x1)
        return tree(t.tree2, x1, children)

    def ida(m, layers, startp, endp):
        for i in range(startp + 1, endp):
            j = i - startp
            layers[i] = getattr(m, f"up_{j}")(getattr(m, f"proj_{j}")(layers[i]))
            layers[i] = getattr(m, f"node_{j}")(layers[i] + layers[i - 1])

    base, layers = model.base, []
    x = base.base_layer(x)
    for i in range(6):
        level = getattr(base, f"level{i}")
        x = level(x) if i < 2 else tree(level, x)
        layers.append(x)
    out = [layers[-1]]
    for i in range(3):
        ida(getattr(model.dla_up, f"ida_{i}"), layers, len(layers) - i - 2, len(layers))
        out.insert(0, layers[-1])
    y = [out[i].clone() for i in range(3)]
    ida(model.ida_up, y, 0, len(y))
    return {head: getattr(model, head)(y[-1]) for head in model.heads}


@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_forward_equals_the_original_wiring(size):
    model = small_model(seed=1).eval()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out, = model(x)
        expected = original_forward(model, x)
    assert list(out) == list(SMALL_HEADS)
    for head in SMALL_HEADS:
        assert out[head].shape == (2, SMALL_HEADS[head], size[0] // 4, size[1] // 4)
        torch.testing.assert_close(out[head], expected[head], atol=0, rtol=0)


def test_every_batchnorm_has_the_original_momentum():
    bns = [m for m in create_model("dla_34", SMALL_HEADS).modules()
           if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == load_manifest("ctdet_dla_34")["num_buffer_tensors"] // 3  # 3 per BN
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in bns)


@pytest.mark.parametrize("factor", [2, 4])
def test_bilinear_upsample_is_bilinear_interpolation_inside_the_border(factor):
    up = bilinear_upsample(3, factor)
    assert (up.stride, up.padding, up.groups, up.bias) == ((factor,) * 2, (factor // 2,) * 2, 3,
                                                           None)
    x = torch.randn(1, 3, 6, 7)
    with torch.no_grad():
        out = up(x)
    expected = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    assert out.shape == expected.shape == (1, 3, 6 * factor, 7 * factor)
    torch.testing.assert_close(out[..., factor:-factor, factor:-factor],
                               expected[..., factor:-factor, factor:-factor])


def test_initialisation_as_the_original():
    torch.manual_seed(0)
    model = create_model("dla_34", {"hm": 80, "wh": 2, "reg": 2, "hm_hp": 17})
    ups = {n: m for n, m in model.named_modules() if isinstance(m, nn.ConvTranspose2d)}
    assert len(ups) == 1 + 2 + 3 + 2
    for name, up in ups.items():
        k = up.kernel_size[0]
        assert up.groups == up.in_channels == up.out_channels and up.weight.requires_grad
        kernel = torch.outer(bilinear_kernel(k), bilinear_kernel(k)).float()
        assert torch.equal(up.weight, kernel.expand_as(up.weight)), name
    dcns = [m for m in model.modules() if isinstance(m, ops.DCN)]
    assert len(dcns) == len(load_manifest("ctdet_dla_34")["dcn_layers"]) == 2 * len(ups)
    assert all(not m.conv_offset_mask.weight.any() and not m.conv_offset_mask.bias.any()
               for m in dcns)
    assert torch.all(model.hm[2].bias == HEATMAP_BIAS)
    assert torch.all(model.hm_hp[2].bias == HEATMAP_BIAS)
    for head in ("wh", "reg"):
        assert not getattr(model, head)[0].bias.any() and not getattr(model, head)[2].bias.any()


def test_unused_projections_are_frozen_and_everything_else_learns():
    """base.level3.project and base.level4.project feed nothing (the original discards their
    output): frozen, no gradient; every other parameter gets one."""
    model = small_model(seed=3, randomize=False)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {f"base.level{i}.project.{j}" for i in (3, 4)
                      for j in ("0.weight", "1.weight", "1.bias")}
    out, = model(torch.randn(2, 3, 64, 64))
    sum(o.float().square().mean() for o in out.values()).backward()
    no_grad = {n for n, p in model.named_parameters() if p.grad is None}
    assert no_grad == frozen


def test_imagenet_backbone_initialisation(tmp_path):
    torch.manual_seed(5)
    imagenet = dla34()
    with torch.no_grad():
        for p in imagenet.parameters():
            p.normal_()
    state = dict(imagenet.state_dict(), **{"fc.weight": torch.randn(1000, 512, 1, 1),
                                           "fc.bias": torch.randn(1000)})
    path = tmp_path / "dla34-imagenet.pth"
    torch.save(state, path)
    model = create_model("dla_34", SMALL_HEADS, pretrained_backbone=path)
    for key, value in imagenet.state_dict().items():
        assert torch.equal(model.base.state_dict()[key], value), key
    del state["level5.root.bn.running_var"]
    with pytest.raises(CheckpointError, match=r"DLA ImageNet weights .*missing keys: "
                                              r"level5\.root\.bn\.running_var"):
        create_model("dla_34", SMALL_HEADS, pretrained_backbone=state)


def test_input_checks():
    model = small_model(randomize=False)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.randn(1, 3, 64, 80))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        model(torch.randn(1, 4, 64, 64))
    with pytest.raises(ValueError, match="clashes"):
        CenterNetDLA({"hm": 3, "base": 2})
