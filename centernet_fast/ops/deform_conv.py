"""Public API of the modulated deformable convolution (DCNv2), its fake kernels and autograd.

``deform_conv2d`` takes the arguments of ``torchvision.ops.deform_conv2d`` in the same layouts and
returns the same results, so either can replace the other. The backward is its own op,
``deform_conv2d_backward``, which recomputes the sampling from the saved inputs instead of keeping
the column matrix of the forward.
"""

import torch

from centernet_fast.ops import reference
from centernet_fast.ops._checks import check_deform_conv2d_args, pair
from centernet_fast.ops._extension import extension_available

OP = "deform_conv2d"


def deform_conv2d(input: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  bias=None, stride=1, padding=0, dilation=1, mask=None) -> torch.Tensor:
    """Modulated deformable convolution, a drop-in for ``torchvision.ops.deform_conv2d``.

    Args:
        input: [B, C, H, W] float32 or float64 (float16 and bfloat16 are computed in float32).
        offset: [B, 2 * dg * kh * kw, H_out, W_out]: for deformable group g and kernel tap
            t = i * kw + j, channel 2 * (g * kh * kw + t) is the row offset dy, the next one dx.
        weight: [C_out, C / groups, kh, kw]; groups = C / weight.shape[1].
        bias: [C_out] or None.
        stride, padding, dilation: an int or an (h, w) pair.
        mask: [B, dg * kh * kw, H_out, W_out] modulation per tap and group, or None (all ones).
    Returns:
        [B, C_out, H_out, W_out] in the input's dtype: the convolution of the input sampled
        bilinearly (zero outside the image) at p * stride - padding + t * dilation + offset,
        times the mask. See ``reference.deform_conv2d`` for the formula.
    Raises:
        ValueError: naming the argument, for wrong ranks, shapes, dtypes, devices or sizes.

    Differentiable in input, offset, weight, bias and mask (once: double backward raises).
    The CPU and CUDA kernels are deterministic (no float atomics; the CUDA input gradient is a
    gather over the sampling points sorted by the pixel they touch) and need scratch memory for
    a bounded chunk of images only. Inside ``torch.autocast`` the op runs in the autocast dtype.
    """
    stride, padding, dilation = (pair(OP, "stride", stride), pair(OP, "padding", padding),
                                 pair(OP, "dilation", dilation))
    if not extension_available():
        return reference.deform_conv2d(input, offset, weight, bias, stride, padding, dilation,
                                       mask)
    return torch.ops.centernet_fast.deform_conv2d(input, offset, weight, bias, stride, padding,
                                                  dilation, mask)


if extension_available():

    @torch.library.register_fake("centernet_fast::deform_conv2d")
    def _deform_conv2d_fake(input, offset, weight, bias, stride, padding, dilation, mask):
        _, _, out_h, out_w = check_deform_conv2d_args(input, offset, weight, bias, stride,
                                                      padding, dilation, mask)
        return input.new_empty((input.shape[0], weight.shape[0], out_h, out_w))

    @torch.library.register_fake("centernet_fast::deform_conv2d_backward")
    def _deform_conv2d_backward_fake(grad_output, input, offset, weight, mask, stride, padding,
                                     dilation, output_mask=(True, True, True)):
        kh, kw = weight.shape[2:]
        mask_shape = (offset.shape[0], offset.shape[1] // 2, offset.shape[2], offset.shape[3])
        return (torch.empty_like(input, memory_format=torch.contiguous_format),
                torch.empty_like(offset, memory_format=torch.contiguous_format),
                torch.empty_like(weight, memory_format=torch.contiguous_format),
                weight.new_empty((weight.shape[0],)),
                input.new_empty(mask_shape))

    def _setup_context(ctx, inputs, output):
        input, offset, weight, bias, stride, padding, dilation, mask = inputs
        ctx.save_for_backward(input, offset, weight, mask)
        ctx.config = (stride, padding, dilation)
        ctx.has_bias = bias is not None

    def _backward(ctx, grad_output):
        input, offset, weight, mask = ctx.saved_tensors
        needs = ctx.needs_input_grad  # input, offset, weight, bias, stride, padding, dilation, mask
        output_mask = [needs[0], needs[1] or needs[7], needs[2] or needs[3]]
        grad_input, grad_offset, grad_weight, grad_bias, grad_mask = (
            torch.ops.centernet_fast.deform_conv2d_backward(grad_output, input, offset, weight,
                                                            mask, *ctx.config, output_mask))
        # Gradients left out of output_mask hold unspecified values: never hand them back.
        return (grad_input if needs[0] else None, grad_offset if needs[1] else None,
                grad_weight if needs[2] else None,
                grad_bias if ctx.has_bias and needs[3] else None,
                None, None, None, grad_mask if mask is not None and needs[7] else None)

    def _no_double_backward(ctx, *grads):
        raise NotImplementedError(
            "deform_conv2d: double backward (the gradient of the gradient) is not implemented")

    torch.library.register_autograd("centernet_fast::deform_conv2d", _backward,
                                    setup_context=_setup_context)
    # The backward op differentiates to an error, so that create_graph=True fails loudly instead
    # of silently treating the gradients as constants.
    torch.library.register_autograd("centernet_fast::deform_conv2d_backward", _no_double_backward,
                                    setup_context=lambda ctx, inputs, output: None)
