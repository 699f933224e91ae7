"""CenterNet with the DLA-34 backbone and the deformable IDA up path (the original ``dla_34``,
``pose_dla_dcn.DLASeg`` at output stride 4)."""

import os
from typing import Dict, List, Mapping, Optional, Union

import torch
from torch import nn

from centernet_fast.models.dla import dla34, load_imagenet_weights
from centernet_fast.models.dla_up import DLAUp, IDAUp
from centernet_fast.models.heads import (apply_heads, attach_head, check_heads, init_head,
                                         make_head)
from centernet_fast.models.image_input import check_image_batch

FIRST_LEVEL = 2  # level 2 has stride 4, the output stride of CenterNet
LAST_LEVEL = 5  # the final IDA pass fuses levels 2 .. 4 (strides 4, 8, 16)


class CenterNetDLA(nn.Module):
    """DLA-34 -> DLAUp -> IDAUp -> heads, state_dict keys as the original checkpoints
    (``base.*`` without ``base.fc``, ``dla_up.*``, ``ida_up.*``, then one entry per head).

    Args:
        heads: ``{name: channels}``, e.g. ``{"hm": 80, "wh": 2, "reg": 2}``; each head is an
            attribute named after its map, so names may not clash with module attributes.
        head_conv: hidden channels of every head (0: a single 1 x 1 conv).
        pretrained_backbone: a local DLA-34 ImageNet state_dict (path or mapping) for ``base``;
            random initialisation when None. Nothing is downloaded.

    ``forward(x)``: x [B, 3, H, W] (any float dtype, H and W multiples of 32) -> a one-element
    list (one stack) holding ``{name: [B, heads[name], H / 4, W / 4]}`` raw head outputs (logits
    for the heatmaps).

    Initialisation as the original: backbone and BN PyTorch defaults, DCN offsets zero,
    upsampling bilinear, heatmap heads' last bias -2.19, other heads' biases 0.
    """

    # The stride of the deepest level: the up path adds maps of matching sizes only when the
    # input sides are multiples of it.
    size_divisibility = 32

    def __init__(self, heads: Dict[str, int], head_conv: int = 256,
                 pretrained_backbone: Optional[Union[str, os.PathLike,
                                                     Mapping[str, torch.Tensor]]] = None):
        super().__init__()
        heads = check_heads(heads)
        self.base = dla34()
        if pretrained_backbone is not None:
            load_imagenet_weights(self.base, pretrained_backbone)
        channels = self.base.channels[FIRST_LEVEL:]  # 64, 128, 256, 512
        self.dla_up = DLAUp(channels, scales=[2 ** i for i in range(len(channels))])
        num_fused = LAST_LEVEL - FIRST_LEVEL
        self.ida_up = IDAUp(channels[0], channels[:num_fused], [2 ** i for i in range(num_fused)])
        self.heads = heads
        for name, out_channels in heads.items():
            head = make_head(channels[0], head_conv, out_channels)
            init_head(name, head, "zero_bias")
            attach_head(self, name, head, "CenterNetDLA")

    def forward(self, x: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
        check_image_batch(x, self.size_divisibility, "CenterNetDLA")
        levels = self.base(x)
        up = self.dla_up(levels[FIRST_LEVEL:])
        features = self.ida_up(up[:LAST_LEVEL - FIRST_LEVEL])[-1]
        return [apply_heads(self, self.heads, features)]
