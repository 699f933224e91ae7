"""Public API of the fused focal loss, its fake kernels and its autograd formula.

``torch.ops.centernet_fast.focal_loss`` returns ``(loss, num_pos)``; the backward op recomputes the
gradient from the inputs (one more read of logits and target, one write of the gradient) rather
than storing a gradient-sized buffer in the forward.
"""

import torch

from centernet_fast.ops import reference
from centernet_fast.ops._extension import extension_available


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0,
               clamp: bool = True) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss of CornerNet/CenterNet, on the head's raw logits.

    Args:
        logits: [...] (usually [B, C, H, W]) float32, float16, bfloat16 or float64.
        target: the same shape, float32 or the logits' dtype: 1 at object centres, the Gaussian
            penalty-reduction values in [0, 1) elsewhere; pixels above 1 are ignored.
        alpha, beta: the focusing and penalty-reduction exponents (finite, >= 0).
        clamp: as the original ``_sigmoid``: p = sigmoid(logits) clamped to [1e-4, 1 - 1e-4],
            with zero gradient where the clamp is active. False: the exact log-sigmoid form.
    Returns:
        0-dim float32 (float64 for float64 logits): -(pos + neg) / num_pos over the whole batch,
        or -neg when there is no positive; pos = sum log(p)(1-p)^alpha over target == 1,
        neg = sum log(1-p) p^alpha (1-target)^beta over target < 1. Accumulated in float32 in a
        fixed order: bit-identical run to run. NaN logits (or targets) give a NaN loss.
    Raises:
        ValueError: unsupported dtypes, shape or device mismatch, negative or infinite exponents.

    The gradient with respect to ``logits`` comes from a registered formula; ``target`` gets none
    (asking for it raises in backward).
    """
    if not extension_available():
        return reference.focal_loss(logits, target, alpha, beta, clamp)
    loss, _ = torch.ops.centernet_fast.focal_loss(logits, target, alpha, beta, clamp)
    return loss


def _loss_dtype(logits):
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


if extension_available():

    @torch.library.register_fake("centernet_fast::focal_loss")
    def _focal_loss_fake(logits, target, alpha=2.0, beta=4.0, clamp=True):
        torch._check(logits.shape == target.shape, lambda: "focal_loss: shape mismatch")
        return (logits.new_empty((), dtype=_loss_dtype(logits)),
                logits.new_empty((), dtype=torch.int64))

    @torch.library.register_fake("centernet_fast::focal_loss_backward")
    def _focal_loss_backward_fake(grad_loss, logits, target, num_pos, alpha, beta, clamp):
        return torch.empty_like(logits, memory_format=torch.contiguous_format)

    def _setup_context(ctx, inputs, output):
        logits, target, alpha, beta, clamp = inputs
        ctx.save_for_backward(logits, target, output[1])
        ctx.config = (alpha, beta, clamp)

    def _backward(ctx, grad_loss, _grad_num_pos):
        if ctx.needs_input_grad[1]:
            raise NotImplementedError(
                "focal_loss: the gradient with respect to target is not implemented; detach the "
                "target")
        logits, target, num_pos = ctx.saved_tensors
        grad = None
        if ctx.needs_input_grad[0]:
            grad = torch.ops.centernet_fast.focal_loss_backward(grad_loss, logits, target,
                                                                num_pos, *ctx.config)
        return grad, None, None, None, None

    torch.library.register_autograd("centernet_fast::focal_loss", _backward,
                                    setup_context=_setup_context)
