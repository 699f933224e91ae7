"""CenterNet on Hourglass-104 (Newell et al. 2016, in the CornerNet/ExtremeNet variant): the
original ``large_hourglass.py`` (``get_large_hourglass_net``).

Architecture, for an input [B, 3, H, W] (H, W multiples of 128):

    pre       7x7/2 conv-BN-ReLU (128 ch) -> residual /2 (256 ch)            [B, 256, H/4, W/4]
    stack s = 0, 1:
      kps[s]    hourglass module of depth 5: channels 256, 256, 384, 384, 384, 512, each level
                down by a stride-2 residual, up by nearest 2x and a residual skip branch
      cnvs[s]   3x3 conv-BN-ReLU, 256 ch -> the heads of stack s
      between stacks: inter = inters[0](ReLU(inters_[0](inter) + cnvs_[0](cnv)))
    heads     per head a ModuleList over the stacks of 3x3 conv (bias) -> ReLU -> 1x1 conv

Both stacks produce the full set of outputs in training and in eval (intermediate supervision;
the original detector decodes the last one). State-dict keys are those of the original
checkpoints: ``pre.0.conv.weight``, ``kps.0.low2.up1.0.conv1.weight``, ``hm.1.0.conv.bias`` ...
"""

from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import nn

from centernet_fast.models.heads import attach_head, check_heads, init_head
from centernet_fast.models.image_input import check_image_batch

NUM_STACKS = 2
#: channels and residual blocks per level of the hourglass module (the outermost first).
HOURGLASS_DIMS = (256, 256, 384, 384, 384, 512)
HOURGLASS_BLOCKS = (2, 2, 2, 2, 2, 4)
#: channels of the features the heads read; also the heads' hidden width (see head_conv).
FEATURE_CHANNELS = 256


class ConvBnReLU(nn.Module):
    """k x k conv (padding k // 2) -> BN -> ReLU; without BN the conv has a bias and ``bn`` is an
    identity (no parameters), which gives the original keys ``conv.*`` and ``bn.*``."""

    def __init__(self, kernel_size: int, in_channels: int, out_channels: int, stride: int = 1,
                 with_bn: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=kernel_size // 2, bias=not with_bn)
        self.bn = nn.BatchNorm2d(out_channels) if with_bn else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class Residual(nn.Module):
    """Basic residual block: 3x3 conv (stride) -> BN -> ReLU -> 3x3 conv -> BN, plus ``skip``
    (1x1 conv -> BN where the shape changes, identity otherwise), then ReLU.
    [B, C_in, H, W] -> [B, C_out, ceil(H / stride), ceil(W / stride)]."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.skip = (nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride,
                                             bias=False),
                                   nn.BatchNorm2d(out_channels))
                     if stride != 1 or in_channels != out_channels else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu(out + self.skip(x))


def _residuals(in_channels: int, out_channels: int, blocks: int, stride: int = 1
               ) -> nn.Sequential:
    """``blocks`` residuals; the first changes channels and carries the stride."""
    return nn.Sequential(Residual(in_channels, out_channels, stride),
                         *[Residual(out_channels, out_channels) for _ in range(blocks - 1)])


def _residuals_last_changes(in_channels: int, out_channels: int, blocks: int) -> nn.Sequential:
    """``blocks`` residuals; the last one changes channels (the hourglass' way back up)."""
    return nn.Sequential(*[Residual(in_channels, in_channels) for _ in range(blocks - 1)],
                         Residual(in_channels, out_channels))


class HourglassModule(nn.Module):
    """One hourglass level, recursive: ``up1(x) + upsample2x(low3(low2(low1(x))))`` where
    ``low1`` halves the resolution (stride-2 residual) and ``low2`` is the next level (or, at the
    bottom, plain residuals). [B, dims[0], H, W] -> same shape, H and W divisible by
    2 ** depth."""

    def __init__(self, depth: int, dims, blocks):
        super().__init__()
        channels, inner = dims[0], dims[1]
        self.up1 = _residuals(channels, channels, blocks[0])
        self.low1 = _residuals(channels, inner, blocks[0], stride=2)
        self.low2 = (HourglassModule(depth - 1, dims[1:], blocks[1:]) if depth > 1
                     else _residuals(inner, inner, blocks[1]))
        self.low3 = _residuals_last_changes(inner, channels, blocks[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(x)))
        return self.up1(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


def _conv1x1_bn(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels))


def _hourglass_head(out_channels: int) -> nn.Sequential:
    """``0``: 3x3 conv (bias) -> ReLU (keys ``0.conv.*``), ``1``: 1x1 conv (keys ``1.*``)."""
    return nn.Sequential(
        ConvBnReLU(3, FEATURE_CHANNELS, FEATURE_CHANNELS, with_bn=False),
        nn.Conv2d(FEATURE_CHANNELS, out_channels, 1))


class CenterNetHourglass(nn.Module):
    """Hourglass-104 CenterNet with two stacks. Build it with :func:`hourglass_centernet`.

    ``forward(x)``: x [B, 3, H, W] float images, H and W multiples of 128 (the module halves
    the stride-4 features five times); returns a list of two dicts, one per stack,
    ``{head: [B, heads[head], H/4, W/4]}`` of raw head outputs (no sigmoid), in x's dtype
    (the autocast dtype under torch.autocast).
    """

    # The multiple the input sides must be:
    # the stride-4 features halved five times by each hourglass module.
    size_divisibility = 128

    def __init__(self, heads: Dict[str, int]):
        super().__init__()
        self.heads = check_heads(heads)
        depth, channels = len(HOURGLASS_DIMS) - 1, HOURGLASS_DIMS[0]
        self.pre = nn.Sequential(ConvBnReLU(7, 3, 128, stride=2), Residual(128, channels, 2))
        self.kps = nn.ModuleList([HourglassModule(depth, HOURGLASS_DIMS, HOURGLASS_BLOCKS)
                                  for _ in range(NUM_STACKS)])
        self.cnvs = nn.ModuleList([ConvBnReLU(3, channels, FEATURE_CHANNELS)
                                   for _ in range(NUM_STACKS)])
        self.inters = nn.ModuleList([Residual(channels, channels)
                                     for _ in range(NUM_STACKS - 1)])
        self.inters_ = nn.ModuleList([_conv1x1_bn(channels) for _ in range(NUM_STACKS - 1)])
        self.cnvs_ = nn.ModuleList([_conv1x1_bn(FEATURE_CHANNELS)
                                    for _ in range(NUM_STACKS - 1)])
        self.relu = nn.ReLU(inplace=True)
        for name, out_channels in self.heads.items():
            per_stack = nn.ModuleList([_hourglass_head(out_channels)
                                       for _ in range(NUM_STACKS)])
            for head in per_stack:
                init_head(name, head, regression_init="default")
            attach_head(self, name, per_stack, "hourglass_centernet")

    def forward(self, x: torch.Tensor) -> List[Dict[str, torch.Tensor]]:
        check_image_batch(x, self.size_divisibility, "hourglass_centernet")
        inter = self.pre(x)
        outputs = []
        for s in range(NUM_STACKS):
            cnv = self.cnvs[s](self.kps[s](inter))
            outputs.append({name: getattr(self, name)[s](cnv) for name in self.heads})
            if s < NUM_STACKS - 1:
                # the next stack sees the previous input and this stack's features
                inter = self.relu(self.inters_[s](inter) + self.cnvs_[s](cnv))
                inter = self.inters[s](inter)
        return outputs


def hourglass_centernet(heads: Dict[str, int], head_conv: Optional[int],
                        pretrained_backbone: Optional[str] = None) -> CenterNetHourglass:
    """Hourglass-104 CenterNet (the original ``get_large_hourglass_net``), ~191M parameters.

    heads: ``{name: channels}``, e.g. ``{"hm": 80, "wh": 2, "reg": 2}``.
    head_conv: accepted for a uniform builder signature and ignored, as in the original: every
        head's hidden 3x3 conv has 256 channels whatever ``head_conv`` says.
    pretrained_backbone: must be None. There is no ImageNet checkpoint for Hourglass-104; the
        model-zoo models start from CornerNet/ExtremeNet weights, which are whole-model
        checkpoints and belong to the checkpoint loader.

    Initialisation as the original: PyTorch defaults everywhere, except the hm heads' last bias,
    -2.19 (``init_head(regression_init="default")``).
    """
    if pretrained_backbone is not None:
        raise ValueError("hourglass_centernet: pretrained_backbone must be None (there is no "
                         "ImageNet backbone checkpoint for Hourglass-104); load a whole "
                         "CenterNet/ExtremeNet checkpoint into the built model instead")
    if head_conv is not None and (isinstance(head_conv, bool) or not isinstance(head_conv, int)):
        raise ValueError(f"hourglass_centernet: head_conv must be an int or None, "
                         f"got {head_conv!r}")
    return CenterNetHourglass(heads)
