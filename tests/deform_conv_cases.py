"""Random deform_conv2d problems shared by the tests: shapes, arguments and tensors."""

import random
from typing import NamedTuple

import torch


class Case(NamedTuple):
    batch: int
    channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple
    groups: int
    offset_groups: int
    stride: tuple
    padding: tuple
    dilation: tuple

    def out_size(self):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (self.kernel, self.stride, self.padding,
                                                  self.dilation)
        return ((self.height + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                (self.width + 2 * pw - dw * (kw - 1) - 1) // sw + 1)


# The CenterNet layer: 3x3, stride 1, pad 1, one deformable group.
DCN_CASE = Case(2, 8, 9, 11, 6, (3, 3), 1, 1, (1, 1), (1, 1), (1, 1))


# A 2x2 kernel with padding 1 on a 3x3 image: output 4x4, and with zero offsets the first row
# and column of taps sit exactly on -1, the last exactly on H and W.
SMALL = Case(1, 1, 3, 3, 1, (2, 2), 1, 1, (1, 1), (1, 1), (1, 1))


def random_case(seed: int) -> Case:
    """Random sizes and arguments with a non-empty output; every combination of conv groups and
    deformable groups, non-square kernels, strides, paddings and dilations occurs."""
    rng = random.Random(seed)
    while True:
        groups, offset_groups = rng.choice([1, 2, 3]), rng.choice([1, 2, 3])
        channels = groups * offset_groups * rng.randint(1, 2)
        case = Case(rng.randint(1, 3), channels, rng.randint(1, 10), rng.randint(1, 10),
                    groups * rng.randint(1, 3), (rng.randint(1, 4), rng.randint(1, 4)), groups,
                    offset_groups, (rng.randint(1, 3), rng.randint(1, 3)),
                    (rng.randint(0, 2), rng.randint(0, 2)),
                    (rng.randint(1, 2), rng.randint(1, 2)))
        if min(case.out_size()) >= 1:
            return case


def make_tensors(case: Case, seed: int, dtype=torch.float64, device="cpu", offset_scale=2.0,
                 with_mask=True, with_bias=True):
    """(input, offset, weight, bias, mask) for ``case``; offsets of ``offset_scale`` pixels or so
    (large enough that many samples fall partly or wholly outside the image)."""
    g = torch.Generator().manual_seed(seed)
    (kh, kw), (out_h, out_w) = case.kernel, case.out_size()
    taps = kh * kw

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype).to(device)

    input = rand(case.batch, case.channels, case.height, case.width)
    offset = rand(case.batch, 2 * case.offset_groups * taps, out_h, out_w, scale=offset_scale)
    weight = rand(case.out_channels, case.channels // case.groups, kh, kw)
    bias = rand(case.out_channels) if with_bias else None
    mask = None
    if with_mask:
        mask = torch.rand(case.batch, case.offset_groups * taps, out_h, out_w, generator=g,
                          dtype=torch.float64).to(dtype).to(device)
    return input, offset, weight, bias, mask


def border_tensors(case: Case, seed: int):
    """make_tensors (float64) with offsets in half-pixel steps within +-1.5 pixels: with
    padding, many sampling points fall exactly on the lines y = -1, x = -1, y = H and x = W,
    where the border rules of deform_conv2d differ."""
    input, offset, weight, bias, mask = make_tensors(case, seed)
    g = torch.Generator().manual_seed(seed)
    offset = torch.randint(-3, 4, offset.shape, generator=g).to(offset.dtype) / 2
    return input, offset, weight, bias, mask


def run(fn, case: Case, tensors, grad_output=None):
    """Output and the gradients of (input, offset, weight, bias, mask) of ``fn`` (None for absent
    arguments) for the upstream gradient ``grad_output`` (random when None)."""
    leaves = [t.detach().clone().requires_grad_(True) if t is not None else None for t in tensors]
    input, offset, weight, bias, mask = leaves
    out = fn(input, offset, weight, bias, case.stride, case.padding, case.dilation, mask)
    if grad_output is None:
        g = torch.Generator().manual_seed(1234)
        grad_output = torch.randn(out.shape, generator=g, dtype=torch.float64)
    present = [t for t in leaves if t is not None]
    grads = iter(torch.autograd.grad(out, present, grad_output.to(out)))
    return out.detach(), [next(grads) if t is not None else None for t in leaves]
