"""ResNet building blocks (He et al. 2016) in the parameter layout of torchvision's ResNet, which is
also the layout of the CenterNet ResNet checkpoints: ``conv1``, ``bn1``, ``layer1`` ... ``layer4``,
blocks with ``conv1``/``bn1``/``conv2``/``bn2`` (``conv3``/``bn3`` for bottlenecks) and a
``downsample`` (1 x 1 conv, BN) where the shape changes. Stride sits on the 3 x 3 convolution
("ResNet v1.5"), as in torchvision and the original CenterNet.
"""

from typing import Dict, Optional, Tuple, Type, Union

import torch
from torch import nn


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3 x 3 convs with BN, ReLU after the first and after the residual sum.
    [B, C_in, H, W] -> [B, planes, H / stride, W / stride]."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1 x 1 reduce -> 3 x 3 (carries the stride) -> 1 x 1 expand by 4, BN after each, ReLU after
    the first two and after the residual sum. [B, C_in, H, W] -> [B, 4 planes, H / s, W / s]."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        self.conv1 = _conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = Union[Type[BasicBlock], Type[Bottleneck]]

#: depth -> (block, number of blocks in layer1..layer4), the table of He et al. 2016.
RESNET_SPECS: Dict[int, Tuple[Block, Tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def make_stage(block: Block, in_channels: int, planes: int, blocks: int, stride: int
               ) -> nn.Sequential:
    """``blocks`` blocks, the first with ``stride`` and, when the shape changes, a
    ``downsample`` projection; output channels ``planes * block.expansion``."""
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(_conv1x1(in_channels, out_channels, stride),
                                   nn.BatchNorm2d(out_channels))
    layers = [block(in_channels, planes, stride, downsample)]
    layers += [block(out_channels, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)
