"""Public API of the decoding op ``ctdet_decode``: heatmap peaks to boxes in one fused pass.

The wrapper calls ``torch.ops.centernet_fast.ctdet_decode`` when the compiled library is loaded
and the plain-PyTorch reference otherwise; the fake kernel lets ``torch.compile(fullgraph=True)``
and ``torch.export`` trace through it. Not differentiable: it turns network outputs into
detections.
"""

from typing import Optional

import torch

from centernet_fast.ops import reference
from centernet_fast.ops._extension import extension_available


def ctdet_decode(heat: torch.Tensor, wh: torch.Tensor, reg: Optional[torch.Tensor] = None,
                 K: int = 100, cat_spec_wh: bool = False, logits: bool = False,
                 threshold: Optional[float] = None) -> torch.Tensor:
    """CenterNet box decoding: the K best 3x3 peaks of each image, over all classes, as boxes.

    Replaces the original's max-pool NMS, per-class and global top-K and feature gathers with one
    pass over the heatmap.

    Args:
        heat: [B, C, H, W] float32, float16 or bfloat16 class probabilities, or logits with
            ``logits=True`` (then only the peaks are put through the sigmoid).
        wh: [B, 2, H, W] box width and height, or [B, 2C, H, W] with ``cat_spec_wh`` (channels
            2c, 2c+1 for class c); any float dtype, read as float32.
        reg: [B, 2, H, W] sub-pixel centre offsets (dx, dy); None puts centres at pixel + 0.5.
        K: rows per image, any K >= 1.
        cat_spec_wh: class-specific box sizes, as in the original.
        logits: heat holds logits; score = float32(sigmoid(float64 logit)).
        threshold: rows whose score is below it (compared in float32) get class -1.
    Returns:
        float32 [B, K, 6] rows (x1, y1, x2, y2, score, class) in output-map units, computed as the
        original does: x = x_int + reg_x, then (x - w/2, y - h/2, x + w/2, y + h/2).
        A cell is a peak where heat equals the maximum of its 3x3 window (out-of-map neighbours
        ignored, plateaus keep every cell, a NaN in the window means no peak), found on heat as
        given. Non-peaks score 0. Rows are ordered by score descending, ties by lower flat index
        c*H*W + y*W + x, so K beyond the number of peaks fills the tail with zero-score cells in
        index order; rows past C*H*W are zero with class -1.
    Raises:
        ValueError: wrong rank, dtype or device, wh/reg shapes not matching heat, K < 1, or
            C*H*W >= 2^31.
    """
    impl = torch.ops.centernet_fast.ctdet_decode if extension_available() else reference.ctdet_decode
    return impl(heat, wh, reg, K, cat_spec_wh, logits, threshold)


if extension_available():

    @torch.library.register_fake("centernet_fast::ctdet_decode")
    def _ctdet_decode_fake(heat, wh, reg=None, K=100, cat_spec_wh=False, logits=False,
                           threshold=None):
        torch._check(heat.dim() == 4, lambda: "ctdet_decode: heat must have shape [B, C, H, W]")
        torch._check(K >= 1, lambda: "ctdet_decode: K must be at least 1")
        return heat.new_empty(heat.shape[0], K, 6, dtype=torch.float32)
