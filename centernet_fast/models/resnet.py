"""CenterNet on a ResNet backbone: ``res_*`` (original ``msra_resnet.py``, after Xiao et al.'s
"Simple Baselines") and ``resdcn_*`` (original ``resnet_dcn.py``).

Architecture, for an input [B, 3, H, W]:

    stem       conv1 7x7/2 -> bn1 -> ReLU -> maxpool 3x3/2                 64 ch,   H/4
    layer1-4   ResNet stages (BasicBlock: 18, 34; Bottleneck: 50, 101, 152) 512 or 2048 ch, H/32
    deconv_layers, three 2x upsampling stages back to H/4:
      res_*     [ConvTranspose2d 4x4/2 -> BN -> ReLU] x 3                   256, 256, 256 ch
      resdcn_*  [DCN 3x3 -> BN -> ReLU -> ConvTranspose2d 4x4/2 -> BN -> ReLU] x 3   256, 128, 64 ch
    heads      one ``make_head`` branch per output map                      [B, C_head, H/4, W/4]

State-dict keys and shapes are those of the original checkpoints: the backbone in torchvision's
layout (``conv1``, ``bn1``, ``layer1.0.conv1`` ...), then ``deconv_layers.<i>``, then one
attribute per head (``hm.0.weight`` ...).
"""

import os
from typing import Dict, List, Mapping, Optional, Union

import torch
from torch import nn

from centernet_fast.models.checkpoint import load_checked, read_state_dict
from centernet_fast.models.heads import (apply_heads, attach_head, check_heads, init_head,
                                         make_head)
from centernet_fast.models.image_input import check_image_batch
from centernet_fast.models.resnet_blocks import RESNET_SPECS, make_stage
from centernet_fast.models.upsample import bilinear_upsample_weights_
from centernet_fast.ops import DCN

#: the modules of the ImageNet backbone (torchvision's ResNet without ``fc``).
BACKBONE_MODULES = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")


def _up_conv(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    # kernel 4, stride 2, padding 1: exactly 2x (out = 2 * in), no output_padding needed.
    return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False)


def _deconv_upsampling(in_channels: int) -> nn.Sequential:
    """res_*: three ``ConvTranspose2d -> BN -> ReLU`` stages of 256 channels; transposed-conv
    weights N(0, 0.001^2) as in the original ``init_weights``."""
    layers: List[nn.Module] = []
    for planes in (256, 256, 256):
        up = _up_conv(in_channels, planes)
        nn.init.normal_(up.weight, std=0.001)
        layers += [up, nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
        in_channels = planes
    return nn.Sequential(*layers)


def _dcn_upsampling(in_channels: int) -> nn.Sequential:
    """resdcn_*: three ``DCN 3x3 -> BN -> ReLU -> ConvTranspose2d -> BN -> ReLU`` stages of 256,
    128, 64 channels; DCN initialised as DCNv2 (``ops.DCN``), transposed convs with the
    original's bilinear fill (see ``bilinear_upsample_weights_``)."""
    layers: List[nn.Module] = []
    for planes in (256, 128, 64):
        up = _up_conv(planes, planes)
        bilinear_upsample_weights_(up)
        layers += [DCN(in_channels, planes, 3, stride=1, padding=1, dilation=1,
                       deformable_groups=1),
                   nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
                   up, nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
        in_channels = planes
    return nn.Sequential(*layers)


class CenterNetResNet(nn.Module):
    """ResNet-{18, 34, 50, 101, 152} CenterNet, with transposed-conv (``dcn=False``) or
    DCN + transposed-conv (``dcn=True``) upsampling. Build it with :func:`resnet_centernet`.

    ``forward(x)``: x [B, 3, H, W] float images, H and W multiples of 32; returns a one-element
    list ``[{head: [B, heads[head], H/4, W/4]}]`` (dict in the order of ``heads``) of raw head
    outputs (no sigmoid), in x's dtype (the autocast dtype under torch.autocast).
    """

    # The multiple the input sides must be:
    # the stride of layer4, which the transposed convolutions undo.
    size_divisibility = 32

    def __init__(self, num_layers: int, heads: Dict[str, int], head_conv: int, dcn: bool):
        super().__init__()
        if type(num_layers) is not int or num_layers not in RESNET_SPECS:
            raise ValueError(f"resnet_centernet: num_layers must be one of "
                             f"{sorted(RESNET_SPECS)}, got {num_layers!r}")
        if isinstance(head_conv, bool) or not isinstance(head_conv, int):
            raise ValueError(f"resnet_centernet: head_conv must be an int, got {head_conv!r}")
        block, blocks_per_stage = RESNET_SPECS[num_layers]
        self.heads = check_heads(heads)
        self.num_layers, self.dcn = num_layers, bool(dcn)

        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels = 64
        for i, (planes, blocks, stride) in enumerate(
                zip((64, 128, 256, 512), blocks_per_stage, (1, 2, 2, 2)), start=1):
            setattr(self, f"layer{i}", make_stage(block, channels, planes, blocks, stride))
            channels = planes * block.expansion

        self.deconv_layers = (_dcn_upsampling if self.dcn else _deconv_upsampling)(channels)
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.BatchNorm2d):  # the original sets these explicitly
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        feature_channels = 64 if self.dcn else 256

        # msra_resnet.py registers its heads in sorted name order, resnet_dcn.py in the given
        # order; the state_dict order follows, so keep each original's.
        for name in (self.heads if self.dcn else sorted(self.heads)):
            head = make_head(feature_channels, head_conv, self.heads[name])
            # resnet_dcn.py initialises every conv of a head, msra_resnet.py only the last one
            # (its 3x3 conv keeps PyTorch's default).
            last_conv = head if isinstance(head, nn.Conv2d) else head[-1:]
            init_head(name, head if self.dcn else last_conv, regression_init="normal")
            attach_head(self, name, head, "resnet_centernet")

    def forward(self, x: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
        check_image_batch(x, self.size_divisibility, "resnet_centernet")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return [apply_heads(self, self.heads, self.deconv_layers(x))]


def load_imagenet_backbone_(model: CenterNetResNet,
                            path_or_state_dict: Union[str, os.PathLike, Mapping[str, torch.Tensor]]
                            ) -> None:
    """Copies a torchvision-layout ResNet ImageNet state_dict (a local ``torch.save`` file or a
    mapping) into ``model``'s backbone (``conv1``, ``bn1``, ``layer1``..``layer4``).

    ``fc.*`` is ignored; missing ``num_batches_tracked`` entries (old torchvision files) leave
    the counters as they are. Any other missing or unexpected key, or a shape that differs,
    raises ``CheckpointError`` (a ``ValueError``) listing them, before anything is copied; a
    missing file raises ``FileNotFoundError``. Files are read with ``weights_only=True``.
    """
    what = f"ResNet-{model.num_layers} ImageNet weights"
    backbone = nn.ModuleDict({name: getattr(model, name) for name in BACKBONE_MODULES})
    load_checked(backbone, read_state_dict(path_or_state_dict, what), ignore_prefixes=("fc.",),
                 what=what, target=f"the ResNet-{model.num_layers} backbone (torchvision layout)")


def resnet_centernet(num_layers: int, heads: Dict[str, int], head_conv: int, dcn: bool,
                     pretrained_backbone: Optional[
                         Union[str, os.PathLike, Mapping[str, torch.Tensor]]] = None
                     ) -> CenterNetResNet:
    """The CenterNet ResNet of depth ``num_layers`` (18, 34, 50, 101 or 152): ``res_<n>`` with
    ``dcn=False``, ``resdcn_<n>`` with ``dcn=True``.

    heads: ``{name: channels}``, e.g. ``{"hm": 80, "wh": 2, "reg": 2}``.
    head_conv: hidden channels of each head's 3x3 conv (the original default is 64 for the
        ResNets); ``<= 0`` gives a single 1x1 conv per head.
    pretrained_backbone: path (or mapping) of a local ImageNet state_dict in torchvision's
        ResNet layout (see :func:`load_imagenet_backbone_`); None keeps PyTorch's default
        initialisation of the backbone. Nothing is downloaded.

    Initialisation as the original: upsampling BN weight 1, bias 0; res_* transposed convs
    N(0, 0.001^2); resdcn_* transposed convs bilinear (channel 0 slice), DCN as DCNv2; heads
    through ``init_head(regression_init="normal")``: hm bias -2.19, the other heads
    N(0, 0.001^2) weights and zero biases, on every conv of the head for resdcn_* and on the
    last conv only for res_* (as each original does).
    """
    model = CenterNetResNet(num_layers, heads, head_conv, dcn)
    if pretrained_backbone is not None:
        load_imagenet_backbone_(model, pretrained_backbone)
    return model
