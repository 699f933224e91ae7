"""The floor model: what each benchmark case must at least move and compute.

A benchmark declares, in its ``extra_info``, ``floor_bytes`` (bytes that any implementation must
read and write) and/or ``floor_flops`` (multiply-adds counted as 2 FLOPs, in the arithmetic of
``floor_dtype``). The report divides them by the machine's measured copy bandwidth and matmul
rate (bench_machine.py, same run) and shows the larger of the two times as the case's floor and
the fraction of it each implementation reaches.
"""

import torch
from torch.utils.flop_counter import FlopCounterMode

FLOAT32 = 4


def cpu_has_bf16():
    """Whether the CPU computes bfloat16 natively (Linux flags; False where unknown): where it
    does not, bfloat16 cases are left out of the CPU runs (emulated, they only take time)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def floor_info(floor_bytes=None, floor_flops=None, dtype="float32"):
    """The ``extra_info`` entries of a case's floor."""
    info = {"floor_dtype": dtype}
    if floor_bytes is not None:
        info["floor_bytes"] = int(floor_bytes)
    if floor_flops is not None:
        info["floor_flops"] = int(floor_flops)
    return info


def deform_conv2d_flops(batch, c_in, c_out, out_h, out_w, taps=9):
    """FLOPs of the forward matrix product of a deformable convolution (one conv group):
    2 * B * C_out * C_in * taps * H_out * W_out. The bilinear sampling is not counted: it is
    a few FLOPs per sampled value, far below the product for the channel counts of CenterNet."""
    return 2 * batch * c_out * c_in * taps * out_h * out_w


def _deform_conv2d_formula(input_shape, offset_shape, weight_shape, *args, out_shape=None,
                           **kwargs):
    c_out, c_in_per_group, kh, kw = weight_shape
    return deform_conv2d_flops(out_shape[0], c_in_per_group, c_out, out_shape[2], out_shape[3],
                               kh * kw)


def _deform_conv2d_backward_formula(grad_shape, input_shape, offset_shape, weight_shape,
                                    mask_shape, stride, padding, dilation, output_mask=None,
                                    out_shape=None, **kwargs):
    # One product for the column gradient (input, offset, mask), one for the weight gradient.
    c_out, c_in_per_group, kh, kw = weight_shape
    product = deform_conv2d_flops(grad_shape[0], c_in_per_group, c_out, grad_shape[2],
                                  grad_shape[3], kh * kw)
    mask = list(output_mask) if output_mask is not None else [True, True, True]
    return product * (int(mask[0] or mask[1]) + int(mask[2]))


def count_flops(fn, *args):
    """(result, FLOPs) of ``fn(*args)``: the matrix products and convolutions torch's flop
    counter knows, plus the fused deformable convolution's forward and backward products."""
    ops = torch.ops.centernet_fast
    mapping = {ops.deform_conv2d: _deform_conv2d_formula,
               ops.deform_conv2d_backward: _deform_conv2d_backward_formula}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        result = fn(*args)
    return result, counter.get_total_flops()
