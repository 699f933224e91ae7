"""Transposed-convolution upsampling initialised to bilinear interpolation, as CenterNet's
``fill_up_weights`` does for the DLA and ResNet-DCN up paths."""

import math

import torch
from torch import nn


def bilinear_kernel(size: int) -> torch.Tensor:
    """float32 [size, size]: the separable bilinear kernel of a stride ``ceil(size / 2)``
    transposed convolution, (1 - |i / f - c|) (1 - |j / f - c|) with f = ceil(size / 2) and
    c = (2f - 1 - f % 2) / 2f; e.g. size 4: outer product of (0.25, 0.75, 0.75, 0.25)."""
    f = math.ceil(size / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    taps = 1 - (torch.arange(size, dtype=torch.float64) / f - c).abs()
    return torch.outer(taps, taps).float()


def fill_up_weights(up: nn.ConvTranspose2d) -> None:
    """Writes the bilinear kernel into ``up.weight[:, 0]`` (weight [C_in, C_out / groups, kh, kw],
    square kernel), as the original: for a depthwise ``up`` (groups == channels) that is every
    filter; for a dense one the other input-to-output slices keep their default values."""
    kh, kw = up.weight.shape[-2:]
    if kh != kw:
        raise ValueError(f"fill_up_weights: square kernel expected, got {kh}x{kw}")
    with torch.no_grad():
        up.weight[:, 0] = bilinear_kernel(kh).to(up.weight)


def bilinear_upsample(channels: int, factor: int) -> nn.ConvTranspose2d:
    """Depthwise ``ConvTranspose2d(channels, channels, 2 * factor, stride=factor,
    padding=factor // 2, groups=channels, bias=False)`` with bilinear initial weights (trainable):
    [B, C, H, W] -> [B, C, factor H, factor W]; weight [C, 1, 2 factor, 2 factor]."""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2,
                            output_padding=0, groups=channels, bias=False)
    fill_up_weights(up)
    return up
