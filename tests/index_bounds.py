"""Calls just past the kernels' 32-bit index bounds, for the CPU and the emulated CUDA
registrations alike. Zero-stride expanded tensors give the shapes without the memory."""

import torch

# 2 * 46341 * 23171 and 46341 * 46341 are just above 2^31.
BIG_SIDE, HALF_SIDE = 46341, 23171


def huge(*shape):
    return torch.zeros(1).expand(*shape)


def over_the_bounds(ops):
    """(call, message) pairs of ops (torch.ops.centernet_fast or its emulated CUDA twin)."""
    heat = huge(1, 2, BIG_SIDE, HALF_SIDE)
    return [
        (lambda: ops.ctdet_decode(heat, huge(1, 2, BIG_SIDE, HALF_SIDE), None, 100, False,
                                  False, None),
         r"heat's C \* H \* W must be below 2\^31"),
        (lambda: ops.ctdet_targets(torch.zeros(1, 1, 4), torch.zeros(1, 1, dtype=torch.long), 1,
                                   [BIG_SIDE, BIG_SIDE], 128, 0.7, "centernet"),
         r"output_size H \* W must be below 2\^31"),
        (lambda: ops.deform_conv2d(huge(1, 1, BIG_SIDE, BIG_SIDE),
                                   huge(1, 2, BIG_SIDE, BIG_SIDE), torch.ones(1, 1, 1, 1), None,
                                   [1, 1], [0, 0], [1, 1], None),
         r"one image is too large \(H \* W"),
    ]
