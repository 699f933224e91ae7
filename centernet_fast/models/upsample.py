"""Initialisation of the learned upsampling layers of CenterNet."""

import math

import torch
from torch import nn


def bilinear_kernel(kernel_size: int) -> torch.Tensor:
    """The 1-D bilinear interpolation kernel of the original CenterNet (float64, [kernel_size]).

    With ``f = ceil(k / 2)`` and centre ``c = (2f - 1 - f % 2) / (2f)``, tap ``i`` is
    ``1 - |i / f - c|``; for k = 4 that is ``[0.25, 0.75, 0.75, 0.25]``, the kernel of a 2x
    bilinear upsampling by a stride-2 transposed convolution.
    """
    f = math.ceil(kernel_size / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    return 1 - (torch.arange(kernel_size, dtype=torch.float64) / f - c).abs()


def bilinear_upsample_weights_(conv_transpose: nn.ConvTranspose2d) -> torch.Tensor:
    """Fills ``conv_transpose.weight`` [C_in, C_out / groups, kh, kw] in place as the original
    ``fill_up_weights`` of CenterNet's DLA-34 and ResNet-DCN does, and returns the weight.

    ``weight[:, 0]`` becomes the 2-D bilinear kernel (outer product of :func:`bilinear_kernel`
    of kh and of kw) for every input channel; ``weight[:, 1:]`` is left as it is.

    - Depthwise up-convolution (``groups == C_in == C_out``, weight [C, 1, k, k], DLA-34): every
      channel is upsampled bilinearly on its own.
    - Dense up-convolution (weight [C, C, k, k], ResNet-DCN): only the slice feeding output
      channel 0 is set, the rest keeps its previous (default) initialisation. This is what the
      original does, and the model-zoo ResNet-DCN models were trained from it, so it is kept.

    Raises ``TypeError`` for a module that is not an ``nn.ConvTranspose2d``.
    """
    if not isinstance(conv_transpose, nn.ConvTranspose2d):
        raise TypeError(f"bilinear_upsample_weights_ expects an nn.ConvTranspose2d, "
                        f"got {type(conv_transpose).__name__}")
    weight = conv_transpose.weight
    kh, kw = weight.shape[2:]
    kernel = torch.outer(bilinear_kernel(kh), bilinear_kernel(kw))
    with torch.no_grad():
        weight[:, 0].copy_(kernel.to(weight.dtype).expand(weight.shape[0], kh, kw))
    return weight


def bilinear_upsample(channels: int, factor: int) -> nn.ConvTranspose2d:
    """Depthwise ``ConvTranspose2d(channels, channels, 2 * factor, stride=factor,
    padding=factor // 2, groups=channels, bias=False)`` with bilinear initial weights (trainable),
    the upsampling of DLA-34's IDA path: [B, C, H, W] -> [B, C, factor H, factor W];
    weight [C, 1, 2 factor, 2 factor]."""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2,
                            output_padding=0, groups=channels, bias=False)
    bilinear_upsample_weights_(up)
    return up
