"""Public API of the heatmap-target ops: ``gaussian_radius`` and ``ctdet_targets``.

Each wrapper calls ``torch.ops.centernet_fast.<op>`` when the compiled library is loaded and the
plain-PyTorch reference otherwise. The fake kernels let ``torch.compile(fullgraph=True)`` and
``torch.export`` trace through the ops. Neither op is differentiable: they make training targets.
"""

from typing import NamedTuple, Sequence

import torch

from centernet_fast.ops import reference
from centernet_fast.ops._extension import extension_available


class CtdetTargets(NamedTuple):
    """CenterNet detection targets of a batch (B images, C classes, an H x W output map).

    hm: float32 [B, C, H, W] Gaussian peaks per class.
    wh: float32 [B, max_objs, 2] box (width, height) per object slot.
    reg: float32 [B, max_objs, 2] sub-pixel centre offset (dx, dy).
    ind: int64 [B, max_objs] flat index y*W + x of the integer centre.
    reg_mask: uint8 [B, max_objs] 1 where the slot holds an object.
    """

    hm: torch.Tensor
    wh: torch.Tensor
    reg: torch.Tensor
    ind: torch.Tensor
    reg_mask: torch.Tensor


def _as_size_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


def gaussian_radius(height, width, min_overlap: float = 0.7, mode: str = "centernet") -> torch.Tensor:
    """Elementwise CornerNet/CenterNet Gaussian radius of boxes of size height x width.

    Args:
        height, width: tensors (or numbers) of box sizes, any real dtype, broadcast together.
        min_overlap: the minimum IoU a box shifted within the radius keeps, in (0, 1).
        mode: ``"centernet"`` reproduces the original formula as written (its deviations from the
            corrected derivation included); ``"corrected"`` is the corrected derivation.
    Returns:
        float64 tensor of the broadcast shape, computed in float64 in the original order of
        operations (some sizes give exactly integral radii that other orders truncate wrongly).
    """
    height, width = torch.broadcast_tensors(_as_size_tensor(height), _as_size_tensor(width))
    if extension_available():
        return torch.ops.centernet_fast.gaussian_radius(height, width, min_overlap, mode)
    return reference.gaussian_radius(height, width, min_overlap, mode)


def ctdet_targets(boxes: torch.Tensor, labels: torch.Tensor, num_classes: int,
                  output_size: Sequence[int], max_objs: int = 128, min_overlap: float = 0.7,
                  radius_mode: str = "centernet") -> CtdetTargets:
    """Draws CenterNet detection targets for a whole padded batch in one call.

    Args:
        boxes: float32 [B, N, 4] boxes (x1, y1, x2, y2) already in output-map coordinates.
        labels: int64 [B, N] class ids in [0, num_classes); -1 marks padding.
        num_classes: C, the number of heatmap channels.
        output_size: (H, W) of the output map.
        max_objs: object slots per image; objects beyond it are dropped.
        min_overlap: the IoU the radius formula guarantees, in (0, 1).
        radius_mode: ``"centernet"`` (the original), ``"corrected"`` (mmdetection's derivation)
            or ``"elliptical"`` (TTFNet: radii 0.54*h/2 and 0.54*w/2).
    Returns:
        CtdetTargets on the boxes' device. Per object k < max_objs: the box is clipped to the map;
        if its height and width stay positive, a Gaussian (sigma = diameter / 6) is max-drawn at
        the truncated centre into hm[b, label] and slot k gets wh, reg, ind and reg_mask = 1.
        Padding, non-finite and empty boxes leave slot k zero.
    Raises:
        ValueError: wrong rank, dtype or device, labels outside [-1, num_classes), non-positive
            output size (or H * W >= 2^31), min_overlap outside (0, 1) or an unknown radius_mode.

    On CUDA the whole batch is drawn in one kernel launch after a zero-fill; checking the label
    range costs one small device-to-host copy, so the call synchronises with the host (and cannot
    be captured in a CUDA graph).
    """
    output_size = [int(s) for s in output_size]
    impl = torch.ops.centernet_fast.ctdet_targets if extension_available() else reference.ctdet_targets
    return CtdetTargets(*impl(boxes, labels, num_classes, output_size, max_objs, min_overlap,
                              radius_mode))


if extension_available():

    @torch.library.register_fake("centernet_fast::gaussian_radius")
    def _gaussian_radius_fake(height, width, min_overlap=0.7, mode="centernet"):
        torch._check(height.shape == width.shape, lambda: "gaussian_radius: shape mismatch")
        return height.new_empty(height.shape, dtype=torch.float64)

    @torch.library.register_fake("centernet_fast::ctdet_targets")
    def _ctdet_targets_fake(boxes, labels, num_classes, output_size, max_objs=128,
                            min_overlap=0.7, radius_mode="centernet"):
        torch._check(boxes.dim() == 3 and boxes.shape[2] == 4,
                     lambda: "ctdet_targets: boxes must have shape [B, N, 4]")
        batch = boxes.shape[0]
        height, width = output_size
        return (
            boxes.new_empty(batch, num_classes, height, width, dtype=torch.float32),
            boxes.new_empty(batch, max_objs, 2, dtype=torch.float32),
            boxes.new_empty(batch, max_objs, 2, dtype=torch.float32),
            boxes.new_empty(batch, max_objs, dtype=torch.int64),
            boxes.new_empty(batch, max_objs, dtype=torch.uint8),
        )
