"""The bilinear initialisation of CenterNet's transposed-convolution upsampling."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from centernet_fast.models.upsample import bilinear_kernel, bilinear_upsample_weights_


def test_kernel_values():
    assert bilinear_kernel(4).tolist() == [0.25, 0.75, 0.75, 0.25]
    assert bilinear_kernel(8).tolist() == [0.125, 0.375, 0.625, 0.875,
                                           0.875, 0.625, 0.375, 0.125]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_depthwise_up_conv_is_bilinear_2x_upsampling(dtype):
    channels = 3
    up = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, groups=channels,
                            bias=False).to(dtype)
    weight = bilinear_upsample_weights_(up)
    assert weight is up.weight and weight.dtype == dtype
    expected = torch.tensor([[0.0625, 0.1875, 0.1875, 0.0625],
                             [0.1875, 0.5625, 0.5625, 0.1875],
                             [0.1875, 0.5625, 0.5625, 0.1875],
                             [0.0625, 0.1875, 0.1875, 0.0625]], dtype=dtype)
    assert torch.equal(up.weight, expected.expand(channels, 1, 4, 4))
    # Away from the zero-padded border it is bilinear interpolation with half-pixel centres.
    x = torch.randn(2, channels, 6, 5, dtype=dtype)
    with torch.no_grad():
        y = up(x)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert y.shape == (2, channels, 12, 10)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1])


def test_dense_up_conv_fills_output_channel_zero_only():
    torch.manual_seed(0)
    up = nn.ConvTranspose2d(5, 4, 4, stride=2, padding=1, bias=False)
    before = up.weight.detach().clone()
    bilinear_upsample_weights_(up)
    kernel = torch.outer(bilinear_kernel(4), bilinear_kernel(4)).float()
    assert torch.equal(up.weight[:, 0], kernel.expand(5, 4, 4))
    assert torch.equal(up.weight[:, 1:], before[:, 1:])


def test_rejects_other_modules():
    with pytest.raises(TypeError, match="ConvTranspose2d"):
        bilinear_upsample_weights_(nn.Conv2d(2, 2, 4))
