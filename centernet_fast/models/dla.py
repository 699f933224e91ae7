"""DLA-34, the Deep Layer Aggregation backbone (Yu et al. 2018) of CenterNet's ``dla_34``.

Hierarchical aggregation: each level is a tree of residual blocks whose outputs (and, for
``level_root`` trees, the level's downsampled input) are merged by a 1 x 1 ``Root`` convolution.
Module names, parameter shapes and BatchNorm momentum (0.1) are those of the original
``pose_dla_dcn.DLA``, so the ``base.*`` keys of the CenterNet checkpoints and the keys of the DLA
ImageNet checkpoint (without its classifier ``fc.*``) load unchanged.
"""

import os
from typing import List, Mapping, Optional, Sequence, Union

import torch
from torch import nn

from centernet_fast.models.checkpoint import load_checked, read_state_dict

BN_MOMENTUM = 0.1


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


class BasicBlock(nn.Module):
    """Two 3 x 3 conv -> BN layers (the first with ``stride``) plus a residual, then ReLU.
    ``forward(x, residual)``: ``residual`` [B, planes, H / stride, W / stride] is added before
    the last ReLU (the caller computes it: downsampled and projected input)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _bn(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = _bn(planes)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + residual)


class Root(nn.Module):
    """Aggregation node: concatenate the children along channels, 1 x 1 conv -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)
        self.bn = _bn(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, children: List[torch.Tensor]) -> torch.Tensor:
        return self.relu(self.bn(self.conv(torch.cat(children, 1))))


class Tree(nn.Module):
    """A DLA aggregation tree of ``levels`` levels of BasicBlocks, in_channels -> out_channels,
    spatial stride ``stride`` (a max-pool on the path to the root and the residual).

    ``levels == 1``: two blocks (``tree1`` with the stride, ``tree2``) merged by ``root`` with
    the children handed down by the parent. ``levels > 1``: two subtrees; ``tree1``'s output
    becomes a child of ``tree2``'s root. ``level_root``: the downsampled input is a child of
    the root too. ``root`` input channels: 2 out_channels (+ in_channels with ``level_root``)
    + out_channels per level of nesting (``root_dim`` of the parent).

    ``project`` (1 x 1 conv -> BN, when the channel count changes) maps the input to the
    residual of ``tree1``. In a tree with levels > 1 the original computes it and discards it
    (a subtree forms its own residual): here it is not computed, its parameters take no gradient
    and are frozen (``requires_grad=False``, so DDP needs no unused-parameter search), and its
    BatchNorm statistics keep their initial values. No output depends on it either way; it stays
    for the checkpoint keys.
    """

    def __init__(self, levels: int, in_channels: int, out_channels: int, stride: int = 1,
                 level_root: bool = False, root_dim: int = 0):
        super().__init__()
        root_dim = root_dim or 2 * out_channels
        if level_root:
            root_dim += in_channels
        if levels == 1:
            self.tree1 = BasicBlock(in_channels, out_channels, stride)
            self.tree2 = BasicBlock(out_channels, out_channels, 1)
            self.root = Root(root_dim, out_channels)
        else:
            self.tree1 = Tree(levels - 1, in_channels, out_channels, stride)
            self.tree2 = Tree(levels - 1, out_channels, out_channels,
                              root_dim=root_dim + out_channels)
        self.levels, self.level_root = levels, level_root
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else None
        self.project = None
        if in_channels != out_channels:
            self.project = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False), _bn(out_channels))
            if levels > 1:
                self.project.requires_grad_(False)

    def forward(self, x: torch.Tensor, children: Optional[List[torch.Tensor]] = None
                ) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x) if self.downsample is not None else x
        if self.level_root:
            children = children + [bottom]
        if self.levels == 1:
            residual = self.project(bottom) if self.project is not None else bottom
            x1 = self.tree1(x, residual)
            x2 = self.tree2(x1, x1)
            return self.root([x2, x1] + children)
        x1 = self.tree1(x)
        return self.tree2(x1, children + [x1])


class DLA(nn.Module):
    """The DLA backbone: a 7 x 7 stem, two plain conv levels and four aggregation trees.

    ``levels``/``channels``: six entries, as the paper's table (DLA-34: levels
    (1, 1, 1, 2, 2, 1), channels (16, 32, 64, 128, 256, 512)). ``forward(x)`` with x
    [B, 3, H, W] returns the six level outputs, level i: [B, channels[i], H / 2^i, W / 2^i].
    """

    def __init__(self, levels: Sequence[int], channels: Sequence[int]):
        super().__init__()
        if len(levels) != 6 or len(channels) != 6:
            raise ValueError(f"DLA: six levels and channels expected, got {levels}, {channels}")
        self.channels = list(channels)
        self.base_layer = nn.Sequential(
            nn.Conv2d(3, channels[0], 7, stride=1, padding=3, bias=False), _bn(channels[0]),
            nn.ReLU(inplace=True))
        self.level0 = self._conv_level(channels[0], channels[0], levels[0], stride=1)
        self.level1 = self._conv_level(channels[0], channels[1], levels[1], stride=2)
        self.level2 = Tree(levels[2], channels[1], channels[2], 2, level_root=False)
        self.level3 = Tree(levels[3], channels[2], channels[3], 2, level_root=True)
        self.level4 = Tree(levels[4], channels[3], channels[4], 2, level_root=True)
        self.level5 = Tree(levels[5], channels[4], channels[5], 2, level_root=True)

    @staticmethod
    def _conv_level(inplanes: int, planes: int, convs: int, stride: int) -> nn.Sequential:
        layers = []
        for i in range(convs):
            layers += [nn.Conv2d(inplanes if i == 0 else planes, planes, 3,
                                 stride=stride if i == 0 else 1, padding=1, bias=False),
                       _bn(planes), nn.ReLU(inplace=True)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x = self.base_layer(x)
        outputs = []
        for level in (self.level0, self.level1, self.level2, self.level3, self.level4,
                      self.level5):
            x = level(x)
            outputs.append(x)
        return outputs


def dla34() -> DLA:
    """DLA-34, randomly initialised (PyTorch defaults, as the original)."""
    return DLA(levels=(1, 1, 1, 2, 2, 1), channels=(16, 32, 64, 128, 256, 512))


def load_imagenet_weights(backbone: DLA,
                          path_or_state_dict: Union[str, os.PathLike, Mapping[str, torch.Tensor]]
                          ) -> None:
    """Loads a DLA ImageNet state_dict (keys ``base_layer.*``, ``level0.*``, ... as in
    ``dla34-ba72cf86.pth``; its classifier ``fc.*`` is ignored) from a local file or a mapping.
    Every backbone key must be present with its shape (BatchNorm ``num_batches_tracked`` may be
    missing, as in checkpoints older than PyTorch 0.4.1); otherwise ``CheckpointError`` lists
    what is wrong and nothing is loaded."""
    state = read_state_dict(path_or_state_dict, what="DLA ImageNet weights")
    load_checked(backbone, state, ignore_prefixes=("fc.",), what="DLA ImageNet weights")
