"""``lite``: a light CenterNet for CPUs and quick runs (not in the original model zoo).

A ResNet-style encoder with a feature-pyramid decoder that adds every encoder level back on the
way up to stride 4, so that the stride-4 map sees both fine detail and the stride-32 context. It
trains from scratch in minutes on a 2-core CPU (the main job of ``centernet-fast train``), where
``res_18`` (no skips, 256-channel transposed convs at stride 4) costs about four times as much
per image and learns far more slowly from scratch.

Architecture, for an input [B, 3, H, W] (widths as built by default):

    stem     conv 3x3/2 -> BN -> ReLU (16 ch), conv 3x3/2 -> BN -> ReLU (32 ch)    H/4
    layer1   1 BasicBlock, 32 ch                                                  H/4
    layer2   2 BasicBlocks, 64 ch, the first with stride 2                        H/8
    layer3   2 BasicBlocks, 128 ch, stride 2                                      H/16
    layer4   2 BasicBlocks, 256 ch, stride 2                                      H/32
    decoder  lateral 1x1 conv -> BN of every level to 64 ch; from layer4 down: 2x nearest
             upsampling + the next level's lateral, then conv 3x3 -> BN -> ReLU     64 ch, H/4
    heads    one ``make_head`` branch per output map                              [B, C, H/4, W/4]
"""

from typing import Dict, List, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from centernet_fast.models.heads import (apply_heads, attach_head, check_heads, init_head,
                                         make_head)
from centernet_fast.models.image_input import check_image_batch
from centernet_fast.models.resnet_blocks import BasicBlock, make_stage

WIDTHS = (32, 64, 128, 256)
BLOCKS = (1, 2, 2, 2)
DECODER_CHANNELS = 64


def _conv_bn_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class CenterNetLite(nn.Module):
    """The ``lite`` network (see the module docstring). Build it with :func:`lite_centernet`.

    ``forward(x)``: x [B, 3, H, W] float images, H and W multiples of 32; returns a one-element
    list ``[{head: [B, heads[head], H/4, W/4]}]`` of raw head outputs (no sigmoid), in x's dtype
    (the autocast dtype under torch.autocast).
    """

    # The multiple the input sides must be:
    # the stride of the coarsest level, which the decoder merges back.
    size_divisibility = 32

    def __init__(self, heads: Dict[str, int], head_conv: int, widths: Sequence[int] = WIDTHS,
                 blocks: Sequence[int] = BLOCKS, decoder_channels: int = DECODER_CHANNELS):
        super().__init__()
        self.heads = check_heads(heads)
        self.stem = nn.Sequential(_conv_bn_relu(3, widths[0] // 2, 2),
                                  _conv_bn_relu(widths[0] // 2, widths[0], 2))
        self.layers = nn.ModuleList()
        channels = widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            self.layers.append(make_stage(BasicBlock, channels, width, count, 1 if i == 0 else 2))
            channels = width
        self.lateral = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, decoder_channels, 1, bias=False),
                          nn.BatchNorm2d(decoder_channels)) for w in widths)
        # One smoothing conv per merge (levels 3, 2, 1 from the top), blending the upsampled
        # coarse map with the lateral.
        self.smooth = nn.ModuleList(_conv_bn_relu(decoder_channels, decoder_channels)
                                    for _ in widths[:-1])
        for name in self.heads:
            head = make_head(decoder_channels, head_conv, self.heads[name])
            init_head(name, head, regression_init="zero_bias")
            attach_head(self, name, head, "lite_centernet")

    def forward(self, x: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
        check_image_batch(x, self.size_divisibility, "lite_centernet")
        x = self.stem(x)
        levels = []
        for layer in self.layers:
            x = layer(x)
            levels.append(x)
        y = self.lateral[-1](levels[-1])
        for i in range(len(levels) - 2, -1, -1):
            y = F.interpolate(y, scale_factor=2.0, mode="nearest") + self.lateral[i](levels[i])
            y = self.smooth[i](y)
        return [apply_heads(self, self.heads, y)]


def lite_centernet(heads: Dict[str, int], head_conv: int,
                   pretrained_backbone=None) -> CenterNetLite:
    """The ``lite`` CenterNet; ``head_conv <= 0`` gives 1x1 heads. It has no ImageNet weights:
    ``pretrained_backbone`` must be None."""
    if pretrained_backbone is not None:
        raise ValueError("lite_centernet: there are no pretrained backbone weights for 'lite'; "
                         "it trains from scratch")
    return CenterNetLite(heads, head_conv)
