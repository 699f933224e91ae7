"""``create_model``: CenterNet networks by the original architecture names.

Adding an architecture is one ``ARCHITECTURES`` entry: the name (as the original ``--arch``)
mapped to its builder, default ``head_conv`` and input multiple (its model class's
``size_divisibility``, read from there). A builder is called as
``builder(heads=..., head_conv=..., pretrained_backbone=...)`` with checked arguments and
returns an ``nn.Module`` whose forward gives a list (one entry per stack) of
``{head: [B, channels, H / 4, W / 4]}`` maps.
"""

import functools
import os
from typing import Callable, Dict, Mapping, NamedTuple, Optional, Union

import torch
from torch import nn

from centernet_fast.models.centernet_dla import CenterNetDLA
from centernet_fast.models.heads import check_heads
from centernet_fast.models.hourglass import CenterNetHourglass, hourglass_centernet
from centernet_fast.models.lite import CenterNetLite, lite_centernet
from centernet_fast.models.resnet import CenterNetResNet, resnet_centernet
from centernet_fast.models.resnet_blocks import RESNET_SPECS


class Architecture(NamedTuple):
    builder: Callable[..., nn.Module]
    default_head_conv: int
    # The multiple that input heights and widths must be (the total downsampling), as
    # detectron2's Backbone.size_divisibility: checked by the model, the training options and
    # the keep_res padding of evaluation.
    size_divisibility: int


def _resnet(num_layers: int, dcn: bool) -> Callable[..., nn.Module]:
    return functools.partial(resnet_centernet, num_layers, dcn=dcn)


RESNET_DEPTHS = sorted(RESNET_SPECS)
_RESNET = CenterNetResNet.size_divisibility
ARCHITECTURES: Dict[str, Architecture] = {
    "dla_34": Architecture(CenterNetDLA, 256, CenterNetDLA.size_divisibility),
    **{f"res_{n}": Architecture(_resnet(n, dcn=False), 64, _RESNET) for n in RESNET_DEPTHS},
    **{f"resdcn_{n}": Architecture(_resnet(n, dcn=True), 64, _RESNET) for n in RESNET_DEPTHS},
    # head_conv is ignored by Hourglass-104 (its heads are always 256 wide, as the original).
    "hourglass": Architecture(hourglass_centernet, 256, CenterNetHourglass.size_divisibility),
    # Not in the original zoo: a light net for CPUs and the synthetic main job (models/lite.py).
    "lite": Architecture(lite_centernet, 64, CenterNetLite.size_divisibility),
}


def create_model(arch: str, heads: Dict[str, int], head_conv: Optional[int] = None,
                 pretrained_backbone: Optional[Union[str, os.PathLike,
                                                     Mapping[str, torch.Tensor]]] = None
                 ) -> nn.Module:
    """Builds the CenterNet network ``arch`` (one of ``ARCHITECTURES``, e.g. ``"dla_34"``).

    Args:
        heads: ``{name: output channels}``, e.g. ``{"hm": 80, "wh": 2, "reg": 2}``; multi-pose
            adds ``hps: 34, hm_hp: 17, hp_offset: 2``.
        head_conv: hidden channels of the heads; None for the architecture's default (as the
            original: 256 for dla_34 and hourglass, 64 for the ResNets); 0 for a single
            1 x 1 conv per head.
        pretrained_backbone: path to (or mapping of) a local ImageNet state_dict for the
            backbone; random initialisation when None. Nothing is downloaded.
    Returns:
        The model, in training mode, float32 on the CPU.
    Raises:
        ValueError: unknown ``arch`` (the known ones are listed), bad ``heads`` or
            ``head_conv``; ``CheckpointError`` for backbone weights that do not fit.
    """
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ValueError(f"create_model: unknown arch {arch!r}; known: "
                         f"{', '.join(sorted(ARCHITECTURES))}")
    heads = check_heads(heads)
    spec = ARCHITECTURES[arch]
    if head_conv is None:
        head_conv = spec.default_head_conv
    if isinstance(head_conv, bool) or not isinstance(head_conv, int) or head_conv < 0:
        raise ValueError(f"create_model: head_conv must be an int >= 0 (0: no hidden conv) or "
                         f"None for the default ({spec.default_head_conv} for {arch}), "
                         f"got {head_conv!r}")
    return spec.builder(heads=heads, head_conv=head_conv, pretrained_backbone=pretrained_backbone)
