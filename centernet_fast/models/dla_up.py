"""The up path of CenterNet's DLA-34: iterative deep aggregation (IDA) with deformable
convolutions, from the backbone's stride 4..32 levels back to one stride-4 map.

Every projection and aggregation node is DCN -> BN -> ReLU (``DeformConvBNReLU``, the original
``DeformConv``); upsampling is a depthwise transposed convolution initialised to bilinear
interpolation. Module names follow the original ``pose_dla_dcn`` (``ida_0.proj_1.conv.*``,
``ida_0.proj_1.actf.0.*``, ``ida_0.up_1.weight``, ...).
"""

from typing import List, Sequence

import torch
from torch import nn

from centernet_fast import ops
from centernet_fast.models.dla import BN_MOMENTUM
from centernet_fast.models.upsample import bilinear_upsample


class DeformConvBNReLU(nn.Module):
    """3 x 3 DCN (stride 1, padding 1, one deformable group) -> BN -> ReLU:
    [B, in_channels, H, W] -> [B, out_channels, H, W]. ``actf`` (BN, ReLU) is registered before
    ``conv`` so that the state_dict order is the original's."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.actf = nn.Sequential(nn.BatchNorm2d(out_channels, momentum=BN_MOMENTUM),
                                  nn.ReLU(inplace=True))
        self.conv = ops.DCN(in_channels, out_channels, (3, 3), stride=1, padding=1, dilation=1,
                            deformable_groups=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.actf(self.conv(x))


class IDAUp(nn.Module):
    """One iterative aggregation pass over maps x_0 .. x_n: x_0 [B, in_channels[0], H, W] and
    x_i [B, in_channels[i], H / up_factors[i], W / up_factors[i]] (up_factors[0] == 1).

    Returns [x_0, y_1, .., y_n] with y_0 = x_0 and
    y_i = node_i(up_i(proj_i(x_i)) + y_{i-1}), each y_i [B, out_channels, H_0, W_0]; proj_i maps
    in_channels[i] -> out_channels, up_i upsamples by up_factors[i]. ``in_channels[0]`` and
    ``up_factors[0]`` describe x_0, which passes through unchanged.
    """

    def __init__(self, out_channels: int, in_channels: Sequence[int],
                 up_factors: Sequence[int]):
        super().__init__()
        if len(in_channels) != len(up_factors) or len(in_channels) < 2:
            raise ValueError(f"IDAUp: in_channels and up_factors need the same length >= 2, "
                             f"got {list(in_channels)} and {list(up_factors)}")
        self.num_inputs = len(in_channels)
        for i in range(1, self.num_inputs):
            setattr(self, f"proj_{i}", DeformConvBNReLU(in_channels[i], out_channels))
            setattr(self, f"up_{i}", bilinear_upsample(out_channels, int(up_factors[i])))
            setattr(self, f"node_{i}", DeformConvBNReLU(out_channels, out_channels))

    def forward(self, features: List[torch.Tensor]) -> List[torch.Tensor]:
        out = [features[0]]
        for i in range(1, self.num_inputs):
            x = getattr(self, f"up_{i}")(getattr(self, f"proj_{i}")(features[i]))
            out.append(getattr(self, f"node_{i}")(x + out[-1]))
        return out


class DLAUp(nn.Module):
    """Aggregates backbone levels l_0 .. l_n (l_i [B, channels[i], H / s_i, W / s_i], scales
    s_i / s_0 = ``scales[i]``, each twice the previous) from the coarsest up.

    ``ida_k`` (k = 0 .. n-1) fuses levels j = n-1-k .. n into channels[j] at l_j's resolution,
    taking the deeper levels as the previous pass left them; its last map is the stride-s_j
    output. ``forward`` returns [o_0, .., o_n], o_j [B, channels[j], H / s_j, W / s_j], o_n = l_n.
    """

    def __init__(self, channels: Sequence[int], scales: Sequence[int]):
        super().__init__()
        channels, scales = list(channels), [int(s) for s in scales]
        in_channels = list(channels)
        self.num_levels = len(channels)
        for k in range(self.num_levels - 1):
            j = self.num_levels - 2 - k
            setattr(self, f"ida_{k}", IDAUp(channels[j], in_channels[j:],
                                            [s // scales[j] for s in scales[j:]]))
            # Levels deeper than j now hold channels[j] at l_j's resolution.
            scales[j + 1:] = [scales[j]] * (self.num_levels - j - 1)
            in_channels[j + 1:] = [channels[j]] * (self.num_levels - j - 1)

    def forward(self, levels: List[torch.Tensor]) -> List[torch.Tensor]:
        levels = list(levels)
        out = [levels[-1]]
        for k in range(self.num_levels - 1):
            j = self.num_levels - 2 - k
            levels[j:] = getattr(self, f"ida_{k}")(levels[j:])
            out.insert(0, levels[-1])
        return out
