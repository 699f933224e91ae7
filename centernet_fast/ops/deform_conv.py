"""Public API of the modulated deformable convolution (DCNv2), its fake kernels and autograd.

``deform_conv2d`` takes the arguments of ``torchvision.ops.deform_conv2d`` in the same layouts and
returns the same results, so either can replace the other. The backward is its own op,
``deform_conv2d_backward``, which recomputes the sampling from the saved inputs instead of keeping
the column matrix of the forward.
"""

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor

from centernet_fast.ops import reference
from centernet_fast.ops._checks import BORDER_RULES, check_deform_conv2d_args, check_mode, pair
from centernet_fast.ops._extension import extension_available

OP = "deform_conv2d"

IntPair = Union[int, Tuple[int, int], List[int]]


def deform_conv2d(input: Tensor, offset: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                  stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
                  mask: Optional[Tensor] = None, border_rule: str = "torchvision") -> Tensor:
    """Modulated deformable convolution, a drop-in for ``torchvision.ops.deform_conv2d``.

    Args:
        input: [B, C, H, W] float32 or float64 (float16 and bfloat16 are computed in float32).
        offset: [B, 2 * dg * kh * kw, H_out, W_out]: for deformable group g and kernel tap
            t = i * kw + j, channel 2 * (g * kh * kw + t) is the row offset dy, the next one dx.
        weight: [C_out, C / groups, kh, kw]; groups = C / weight.shape[1].
        bias: [C_out] or None.
        stride, padding, dilation: an int or an (h, w) pair.
        mask: [B, dg * kh * kw, H_out, W_out] modulation per tap and group, or None (all ones).
        border_rule: the offset gradient at the border of the sampled region, the one place
            where the DCN implementations differ. A sampling point (y, x) outside the open
            region (-1, H) x (-1, W) samples 0 under both rules, and its input, weight and mask
            gradients are the same; its offset gradient is
            - "torchvision" (default, as ``torchvision.ops.deform_conv2d``): the derivative of
              the bilinear formula. It is one-sided, and non-zero only exactly on the lines
              y = -1 and x = -1, where a neighbour of the point (row or column 0) is inside;
              on y = H or x = W every neighbour is outside and it is 0.
            - "dcnv2" (the original DCNv2 that CenterNet was trained with, and mmcv): 0.
            The difference matters at the start of training: with zero offsets and padding 1,
            the outer ring of taps sits exactly on -1.
    Returns:
        [B, C_out, H_out, W_out] in the input's dtype: the convolution of the input sampled
        bilinearly (zero outside the image) at p * stride - padding + t * dilation + offset,
        times the mask. See ``reference.deform_conv2d`` for the formula.
    Raises:
        ValueError: naming the argument, for wrong ranks, shapes, dtypes, devices or sizes, or
            an unknown border_rule.

    Differentiable in input, offset, weight, bias and mask (once: double backward raises).
    The CPU and CUDA kernels are deterministic (no float atomics; the CUDA input gradient is a
    gather over the sampling points sorted by the pixel they touch) and need scratch memory for
    a bounded chunk of images only. Inside ``torch.autocast`` the op runs in the autocast dtype.
    Scriptable with ``torch.jit.script`` (the compiled op is then required).
    """
    if torch.jit.is_scripting():
        return torch.ops.centernet_fast.deform_conv2d(
            input, offset, weight, bias, _int_pair(stride), _int_pair(padding),
            _int_pair(dilation), mask, border_rule)
    stride, padding, dilation = (pair(OP, "stride", stride), pair(OP, "padding", padding),
                                 pair(OP, "dilation", dilation))
    if not extension_available():
        return reference.deform_conv2d(input, offset, weight, bias, stride, padding, dilation,
                                       mask, border_rule)
    return torch.ops.centernet_fast.deform_conv2d(input, offset, weight, bias, stride, padding,
                                                  dilation, mask, border_rule)


def _int_pair(value: IntPair) -> List[int]:
    """An int or a pair as the op's int[2] under TorchScript; the op checks the length and the
    values, with the messages of ``pair``."""
    if isinstance(value, int):
        return [value, value]
    if isinstance(value, list):
        return value
    return [value[0], value[1]]


if extension_available():

    @torch.library.register_fake("centernet_fast::deform_conv2d")
    def _deform_conv2d_fake(input, offset, weight, bias, stride, padding, dilation, mask,
                            border_rule="torchvision"):
        _, _, out_h, out_w = check_deform_conv2d_args(input, offset, weight, bias, stride,
                                                      padding, dilation, mask, border_rule)
        return input.new_empty((input.shape[0], weight.shape[0], out_h, out_w))

    @torch.library.register_fake("centernet_fast::deform_conv2d_backward")
    def _deform_conv2d_backward_fake(grad_output, input, offset, weight, mask, stride, padding,
                                     dilation, output_mask=(True, True, True),
                                     border_rule="torchvision"):
        # Named as the compiled op's check names it (its checks are deform_conv2d's).
        check_mode(OP, "border_rule", border_rule, BORDER_RULES)
        kh, kw = weight.shape[2:]
        mask_shape = (offset.shape[0], offset.shape[1] // 2, offset.shape[2], offset.shape[3])
        return (torch.empty_like(input, memory_format=torch.contiguous_format),
                torch.empty_like(offset, memory_format=torch.contiguous_format),
                torch.empty_like(weight, memory_format=torch.contiguous_format),
                weight.new_empty((weight.shape[0],)),
                input.new_empty(mask_shape))

    def _setup_context(ctx, inputs, output):
        input, offset, weight, bias, stride, padding, dilation, mask, border_rule = inputs
        ctx.save_for_backward(input, offset, weight, mask)
        ctx.config = (stride, padding, dilation)
        ctx.border_rule = border_rule
        ctx.has_bias = bias is not None

    def _backward(ctx, grad_output):
        input, offset, weight, mask = ctx.saved_tensors
        needs = ctx.needs_input_grad  # input, offset, weight, bias, stride, padding, dilation, mask
        output_mask = [needs[0], needs[1] or needs[7], needs[2] or needs[3]]
        grad_input, grad_offset, grad_weight, grad_bias, grad_mask = (
            torch.ops.centernet_fast.deform_conv2d_backward(grad_output, input, offset, weight,
                                                            mask, *ctx.config, output_mask,
                                                            ctx.border_rule))
        # Gradients left out of output_mask hold unspecified values: never hand them back.
        return (grad_input if needs[0] else None, grad_offset if needs[1] else None,
                grad_weight if needs[2] else None,
                grad_bias if ctx.has_bias and needs[3] else None,
                None, None, None, grad_mask if mask is not None and needs[7] else None, None)

    def _no_double_backward(ctx, *grads):
        raise NotImplementedError(
            "deform_conv2d: double backward (the gradient of the gradient) is not implemented")

    torch.library.register_autograd("centernet_fast::deform_conv2d", _backward,
                                    setup_context=_setup_context)
    # The backward op differentiates to an error, so that create_graph=True fails loudly instead
    # of silently treating the gradients as constants.
    torch.library.register_autograd("centernet_fast::deform_conv2d_backward", _no_double_backward,
                                    setup_context=lambda ctx, inputs, output: None)
