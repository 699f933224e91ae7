"""Deformable convolution layers: ``ModulatedDeformConv2d`` (offsets and mask given) and
``DCN``, the CenterNet/DCNv2 layer that predicts its own offsets and mask.

Parameter names, shapes and initialisation follow the original DCNv2 ``DCN`` class, so the
original CenterNet checkpoints load into models built from these layers.
"""

import math
from typing import Optional

import torch
from torch import nn
from torch.nn.modules.utils import _pair

from centernet_fast.ops._checks import BORDER_RULES, check_mode
from centernet_fast.ops.deform_conv import deform_conv2d


class ModulatedDeformConv2d(nn.Module):
    """Modulated deformable convolution with learnable ``weight`` [C_out, C_in / groups, kh, kw]
    and ``bias`` [C_out] (None when ``bias=False``).

    ``forward(input, offset, mask=None)`` takes the offset and mask layouts of
    :func:`centernet_fast.ops.deform_conv2d`; the deformable groups follow from their shapes.
    The weight is initialised uniform(-s, s) with s = 1 / sqrt(C_in * kh * kw) and the bias to
    zero, as in the original DCNv2. ``border_rule`` is the op's offset-gradient rule at the
    border; "dcnv2" by default, the rule of the original DCNv2 layer (and mmcv), so that models
    built from the original checkpoints fine-tune as they did. Scriptable.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, border_rule: str = "dcnv2"):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ModulatedDeformConv2d: in_channels ({in_channels}) and "
                             f"out_channels ({out_channels}) must be multiples of groups "
                             f"({groups})")
        check_mode(type(self).__name__, "border_rule", border_rule, BORDER_RULES)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.border_rule = border_rule
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups,
                                               *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        with torch.no_grad():
            self.weight.uniform_(-stdv, stdv)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, input: torch.Tensor, offset: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, mask, self.border_rule)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, bias={self.bias is not None}, "
                f"border_rule={self.border_rule!r}")


class DCN(ModulatedDeformConv2d):
    """The DCNv2 layer of CenterNet: a ``ModulatedDeformConv2d`` whose offsets and mask come from
    ``conv_offset_mask``, a convolution of the input (same kernel, stride, padding and
    dilation; the original layer ignored dilation, so that any other than 1 failed) with
    3 * deformable_groups * kh * kw output channels, zero-initialised so that training starts
    from a plain convolution (offsets 0, mask sigmoid(0) = 0.5). Its first two thirds are the
    offsets, the last third the mask logits.

    Parameters: ``weight`` [C_out, C_in, kh, kw], ``bias`` [C_out], ``conv_offset_mask.weight``
    [3 dg kh kw, C_in, kh, kw] and ``conv_offset_mask.bias`` [3 dg kh kw], as in the original.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, deformable_groups: int = 1, border_rule: str = "dcnv2"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         border_rule=border_rule)
        self.deformable_groups = deformable_groups
        kh, kw = self.kernel_size
        self.conv_offset_mask = nn.Conv2d(in_channels, 3 * deformable_groups * kh * kw,
                                          self.kernel_size, self.stride, self.padding,
                                          self.dilation, bias=True)
        self.init_offset()

    def init_offset(self) -> None:
        with torch.no_grad():
            self.conv_offset_mask.weight.zero_()
            self.conv_offset_mask.bias.zero_()

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        out = self.conv_offset_mask(input)
        split = 2 * self.deformable_groups * self.kernel_size[0] * self.kernel_size[1]
        offset, mask = out[:, :split], torch.sigmoid(out[:, split:])
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, mask, self.border_rule)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", deformable_groups={self.deformable_groups}"
