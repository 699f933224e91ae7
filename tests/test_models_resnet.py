"""CenterNet ResNet and ResNet-DCN: original structure, initialisation, forward shapes, ImageNet
backbone loading and argument checks."""

import pytest
import torch
from torch import nn

from centernet_fast.models.heads import HEATMAP_BIAS
from centernet_fast.models.resnet import (BACKBONE_MODULES, load_imagenet_backbone_,
                                          resnet_centernet)
from centernet_fast.models.upsample import bilinear_kernel
from centernet_fast.ops import DCN

BACKBONE_PREFIXES = tuple(name + "." for name in BACKBONE_MODULES)
from model_manifest import assert_matches_manifest, load_manifest

HEADS = {"hm": 80, "wh": 2, "reg": 2}


@pytest.mark.parametrize("name", ["ctdet_res_18", "ctdet_res_18_headconv256", "ctdet_resdcn_18",
                                  "ctdet_resdcn_18_headconv256", "ctdet_resdcn_101",
                                  "ctdet_resdcn_101_headconv256"])
def test_matches_original_manifest(name):
    manifest = load_manifest(name)
    model = resnet_centernet(manifest["num_layers"], manifest["heads"], manifest["head_conv"],
                             dcn=manifest["arch"].startswith("resdcn"))
    assert_matches_manifest(model, manifest)
    dcn_layers = {n: m for n, m in model.named_modules() if isinstance(m, DCN)}
    assert [d["module"] for d in manifest["dcn_layers"]] == list(dcn_layers)
    for d in manifest["dcn_layers"]:
        m = dcn_layers[d["module"]]
        assert (m.in_channels, m.out_channels, list(m.kernel_size)) == \
            (d["in_channels"], d["out_channels"], d["kernel_size"])


# One model per block type and upsampling path; deeper ones only repeat blocks (their structure
# is checked against the manifests and on the meta device in test_model_factory.py).
@pytest.mark.parametrize("num_layers, dcn, backbone_channels", [
    (18, True, 512), (18, False, 512), (50, True, 2048)])
def test_forward_shapes_at_stride_4(num_layers, dcn, backbone_channels):
    torch.manual_seed(0)
    heads = {"hm": 3, "wh": 2, "reg": 2, "hm_hp": 17}
    model = resnet_centernet(num_layers, heads, 64, dcn)
    assert model.deconv_layers[0].in_channels == backbone_channels
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out = model.train()(x)  # training-mode BN: batch statistics
        assert isinstance(out, list) and len(out) == 1
        assert list(out[0]) == list(heads)  # the given order, whatever the state_dict order
        for name, channels in heads.items():
            assert out[0][name].shape == (2, channels, 16, 24)
            assert out[0][name].dtype == torch.float32
        out_eval = model.eval()(x[:1])[0]
    assert {k: v.shape for k, v in out_eval.items()} == {
        k: (1, c, 16, 24) for k, c in heads.items()}
    assert all(torch.isfinite(v).all() for v in out_eval.values())


def test_resdcn_upsampling_init():
    model = resnet_centernet(18, HEADS, 64, dcn=True)
    kernel = torch.outer(bilinear_kernel(4), bilinear_kernel(4)).float()
    ups = [m for m in model.deconv_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [model.deconv_layers[i] for i in (3, 9, 15)] == ups
    for up, planes in zip(ups, (256, 128, 64)):
        assert up.weight.shape == (planes, planes, 4, 4) and up.bias is None
        assert (up.stride, up.padding) == ((2, 2), (1, 1))
        assert torch.equal(up.weight[:, 0], kernel.expand(planes, 4, 4))
    for i in (0, 6, 12):
        dcn = model.deconv_layers[i]
        assert torch.all(dcn.conv_offset_mask.weight == 0)
        assert torch.all(dcn.conv_offset_mask.bias == 0) and torch.all(dcn.bias == 0)
    bns = [m for m in model.deconv_layers if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 6
    assert all(torch.all(bn.weight == 1) and torch.all(bn.bias == 0) for bn in bns)


def test_res_upsampling_init():
    torch.manual_seed(0)
    model = resnet_centernet(18, HEADS, 64, dcn=False)
    ups = [m for m in model.deconv_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [model.deconv_layers[i] for i in (0, 3, 6)] == ups
    for up in ups:
        assert up.bias is None and up.weight.shape[1:] == (256, 4, 4)
        assert abs(up.weight.mean().item()) < 1e-4
        assert 0.0009 < up.weight.std().item() < 0.0011
    bns = [m for m in model.deconv_layers if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 3
    assert all(torch.all(bn.weight == 1) and torch.all(bn.bias == 0) for bn in bns)


def test_heads_init_per_architecture():
    torch.manual_seed(0)
    resdcn = resnet_centernet(18, HEADS, 64, dcn=True)
    res = resnet_centernet(18, HEADS, 64, dcn=False)
    for model in (resdcn, res):
        assert torch.all(model.hm[2].bias == HEATMAP_BIAS)
        for name in ("wh", "reg"):
            assert 0.0008 < getattr(model, name)[2].weight.std().item() < 0.0012
            assert torch.all(getattr(model, name)[2].bias == 0)
    # resnet_dcn.py: every conv of a regression head N(0, 0.001^2), bias 0
    assert 0.0009 < resdcn.wh[0].weight.std().item() < 0.0011
    assert torch.all(resdcn.wh[0].bias == 0)
    # msra_resnet.py: the 3x3 conv keeps PyTorch's default (uniform, bound 1/sqrt(fan_in))
    bound = 1 / (256 * 9) ** 0.5
    assert res.wh[0].weight.abs().max().item() <= bound
    assert res.wh[0].weight.std().item() > 0.5 * bound / 3 ** 0.5
    assert not torch.all(res.wh[0].bias == 0)


def test_head_order_and_single_conv_heads():
    heads = {"wh": 2, "hm": 4, "reg": 2}
    res = resnet_centernet(18, heads, 0, dcn=False)
    resdcn = resnet_centernet(18, heads, 0, dcn=True)
    head_keys = lambda m: [k.split(".")[0] for k in m.state_dict() if k.endswith(".weight")
                           and k.split(".")[0] in heads]
    assert head_keys(res) == ["hm", "reg", "wh"]  # msra_resnet.py: sorted
    assert head_keys(resdcn) == ["wh", "hm", "reg"]  # resnet_dcn.py: as given
    assert isinstance(res.hm, nn.Conv2d) and list(res.hm.state_dict()) == ["weight", "bias"]
    assert torch.all(res.hm.bias == HEATMAP_BIAS) and torch.all(resdcn.wh.bias == 0)
    with torch.no_grad():
        out = resdcn.eval()(torch.randn(1, 3, 64, 64))[0]
    assert list(out) == list(heads) and out["hm"].shape == (1, 4, 16, 16)


def test_channels_last_and_bfloat16_autocast():
    torch.manual_seed(0)
    model = resnet_centernet(18, HEADS, 64, dcn=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)[0]
        model = model.to(memory_format=torch.channels_last)
        out = model(x.to(memory_format=torch.channels_last))[0]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)[0]
    for name in HEADS:
        torch.testing.assert_close(out[name], ref[name], rtol=1e-4, atol=1e-4)
        assert low[name].dtype == torch.bfloat16
    torch.testing.assert_close(low["hm"].float(), ref["hm"], rtol=0.02, atol=0.05)


def _imagenet_file(num_layers, tmp_path, name="resnet.pth", num_batches_tracked=True):
    """A torchvision-layout ResNet state_dict with random values and a 1000-class fc."""
    gen = torch.Generator().manual_seed(num_layers)
    donor = resnet_centernet(num_layers, {"hm": 1}, 64, dcn=False)
    state = {}
    for k, v in donor.state_dict().items():
        if not k.startswith(BACKBONE_PREFIXES):
            continue
        if k.endswith("num_batches_tracked"):
            if num_batches_tracked:
                state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=gen) + 0.5
        else:
            state[k] = torch.randn(v.shape, generator=gen)
    channels = 512 if num_layers < 50 else 2048
    state["fc.weight"] = torch.randn(1000, channels, generator=gen)
    state["fc.bias"] = torch.randn(1000, generator=gen)
    path = tmp_path / name
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize("dcn", [True, False])
def test_pretrained_backbone_round_trip(tmp_path, dcn):
    path, state = _imagenet_file(18, tmp_path)
    assert {"layer4.1.bn2.running_var", "layer2.0.downsample.0.weight"} <= set(state)
    torch.manual_seed(1)
    plain = resnet_centernet(18, HEADS, 64, dcn)
    torch.manual_seed(1)
    model = resnet_centernet(18, HEADS, 64, dcn, pretrained_backbone=path)
    loaded = model.state_dict()
    for k, v in state.items():
        if not k.startswith("fc."):
            assert torch.equal(loaded[k], v), k
    assert not any(k.startswith("fc") for k in loaded)
    for k, v in plain.state_dict().items():  # upsampling and heads untouched
        if not k.startswith(BACKBONE_PREFIXES):
            assert torch.equal(loaded[k], v), k
    assert model.conv1.weight.requires_grad and model.layer1[0].bn1.weight.requires_grad


def test_pretrained_backbone_without_batch_counters(tmp_path):
    path, state = _imagenet_file(18, tmp_path, num_batches_tracked=False)
    model = resnet_centernet(18, HEADS, 64, True, pretrained_backbone=str(path))
    assert torch.equal(model.layer3[1].bn2.running_mean, state["layer3.1.bn2.running_mean"])
    assert model.bn1.num_batches_tracked.item() == 0


def test_pretrained_backbone_bad_files(tmp_path):
    model = resnet_centernet(18, HEADS, 64, True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_imagenet_backbone_(model, tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot read"):
        load_imagenet_backbone_(model, garbage)
    not_a_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_a_dict)
    with pytest.raises(ValueError, match="expected a state_dict"):
        load_imagenet_backbone_(model, not_a_dict)

    path50, _ = _imagenet_file(50, tmp_path, "resnet50.pth")
    with pytest.raises(ValueError, match=r"ResNet-18 backbone.*unexpected keys: "
                                         r"layer1\.0\.conv3\.weight.*shape mismatches"):
        load_imagenet_backbone_(model, path50)

    _, state = _imagenet_file(18, tmp_path)
    wrong_shape = dict(state, **{"layer1.0.conv1.weight": torch.zeros(64, 64, 1, 1)})
    torch.save(wrong_shape, tmp_path / "shape.pth")
    with pytest.raises(ValueError, match=r"1 shape mismatches: layer1\.0\.conv1\.weight: "
                                         r"checkpoint \[64, 64, 1, 1\], model \[64, 64, 3, 3\]$"):
        load_imagenet_backbone_(model, tmp_path / "shape.pth")
    missing = {k: v for k, v in state.items() if k != "layer2.1.bn1.running_mean"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(ValueError, match=r"1 missing keys: layer2\.1\.bn1\.running_mean$"):
        resnet_centernet(18, HEADS, 64, False, pretrained_backbone=tmp_path / "missing.pth")
    prefixed = {"module." + k: v for k, v in state.items()}
    torch.save(prefixed, tmp_path / "prefixed.pth")
    with pytest.raises(ValueError, match=r"unexpected keys: module\.conv1\.weight"):
        load_imagenet_backbone_(model, tmp_path / "prefixed.pth")
    # nothing was copied by the failed attempts
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("num_layers", [0, 20, 200, "18", 18.0, True, None])
def test_unsupported_num_layers(num_layers):
    with pytest.raises(ValueError, match=r"num_layers must be one of \[18, 34, 50, 101, 152\]"):
        resnet_centernet(num_layers, HEADS, 64, True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="head_conv must be an int"):
        resnet_centernet(18, HEADS, "64", True)
    with pytest.raises(ValueError, match="non-empty dict"):
        resnet_centernet(18, {}, 64, True)
    with pytest.raises(ValueError, match="'layer1' clashes"):
        resnet_centernet(18, {"hm": 80, "layer1": 2}, 64, False)
    model = resnet_centernet(18, HEADS, 64, True)
    with pytest.raises(ValueError, match=r"multiples of 32, got 100 x 64"):
        model(torch.randn(1, 3, 100, 64))
    with pytest.raises(ValueError, match=r"images \[B, 3, H, W\], got \(3, 64, 64\)"):
        model(torch.randn(3, 64, 64))
