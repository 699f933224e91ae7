"""The CenterNet detection loss: focal loss on the heatmap, L1 on size and offset at the object
centres (the original ``CtdetLoss`` with its default options)."""

from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from centernet_fast import ops


def _loss_dtype(dtype: torch.dtype) -> torch.dtype:
    # float32 for float32 and the half types, float64 for float64 (as ops.focal_loss).
    return torch.promote_types(dtype, torch.float32)


def gather_at(output: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """``output`` [B, C, H, W] read at the flat indices ``ind`` [B, K] (y * W + x, int64):
    [B, K, C], as the original ``_transpose_and_gather_feat`` but without transposing the whole
    map (the gather reads K pixels per channel, in any memory format)."""
    b, c = output.shape[:2]
    return output.flatten(2).gather(2, ind.unsqueeze(1).expand(b, c, ind.shape[1])).transpose(1, 2)


def reg_l1_loss(output: torch.Tensor, mask: torch.Tensor, ind: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
    """The original ``RegL1Loss``: sum |pred - target| over the object slots, divided by
    (number of objects x C + 1e-4).

    Args:
        output: [B, C, H, W] head map, any float dtype.
        mask: [B, K] 1 for the slots holding an object (uint8, bool or float).
        ind: [B, K] int64 flat index y * W + x of each slot's centre (valid for every slot).
        target: [B, K, C] regression target.
    Returns:
        0-dim float32 (float64 for float64 ``output``); 0 when there are no objects.
    """
    b, c = output.shape[:2]
    k = ind.shape[1]
    if ind.shape != (b, k) or mask.shape != (b, k) or target.shape != (b, k, c):
        raise ValueError(f"reg_l1_loss: expected ind and mask [B, K] and target [B, K, C] for "
                         f"output [B, C, H, W] = {list(output.shape)}, got ind "
                         f"{list(ind.shape)}, mask {list(mask.shape)}, target {list(target.shape)}")
    dtype = _loss_dtype(output.dtype)
    pred = gather_at(output, ind).to(dtype)
    m = mask.to(dtype).unsqueeze(2).expand_as(pred)
    return F.l1_loss(pred * m, target.to(dtype) * m, reduction="sum") / (m.sum() + 1e-4)


class CenterNetLoss(nn.Module):
    """hm_weight * focal(hm) + wh_weight * L1(wh) + off_weight * L1(reg), each averaged over
    the stacks, as the original ``CtdetLoss`` (focal loss, ``reg_loss='l1'``, no dense wh).

    Args:
        hm_weight, wh_weight, off_weight: the weights (original defaults 1, 0.1, 1). A zero
            ``wh_weight``/``off_weight`` skips that term, and the head it reads (``wh``/``reg``)
            need not exist; its component is then 0.
        clamp: the heatmap probabilities are clamped to [1e-4, 1 - 1e-4] as the original
            ``_sigmoid`` (see ``ops.focal_loss``); False: the exact log-sigmoid form.

    ``forward(outputs, targets)``:
        outputs: the model output, a list with one dict per stack holding ``hm``
            [B, C, H, W] logits, ``wh`` and ``reg`` [B, 2, H, W]; any float dtype
            (bfloat16/float16 maps are reduced in float32).
        targets: ``ops.CtdetTargets`` of the batch (hm [B, C, H, W], wh and reg [B, K, 2],
            ind [B, K], reg_mask [B, K]), on the outputs' device.
    Returns ``(total, {"hm": ..., "wh": ..., "off": ...})``: ``total`` a 0-dim float32 tensor
    (float64 for float64 outputs) to backpropagate; the components detached, for logging.
    With no objects the heatmap term is the background part alone and the L1 terms are 0.
    """

    def __init__(self, hm_weight: float = 1.0, wh_weight: float = 0.1, off_weight: float = 1.0,
                 clamp: bool = True):
        super().__init__()
        self.hm_weight, self.wh_weight, self.off_weight = hm_weight, wh_weight, off_weight
        self.clamp = clamp

    def forward(self, outputs: Sequence[Dict[str, torch.Tensor]], targets: ops.CtdetTargets
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        if not isinstance(outputs, (list, tuple)) or not outputs:
            raise ValueError(f"CenterNetLoss: outputs must be a non-empty list of per-stack "
                             f"dicts (the model output), got {type(outputs).__name__}")
        hm = wh = off = None
        for stack in outputs:
            hm = _add(hm, ops.focal_loss(_head(stack, "hm"), targets.hm, clamp=self.clamp))
            if self.wh_weight:
                wh = _add(wh, reg_l1_loss(_head(stack, "wh", "wh_weight"), targets.reg_mask,
                                          targets.ind, targets.wh))
            if self.off_weight:
                off = _add(off, reg_l1_loss(_head(stack, "reg", "off_weight"), targets.reg_mask,
                                            targets.ind, targets.reg))
        hm = hm / len(outputs)
        wh = wh / len(outputs) if wh is not None else torch.zeros_like(hm)
        off = off / len(outputs) if off is not None else torch.zeros_like(hm)
        total = self.hm_weight * hm + self.wh_weight * wh + self.off_weight * off
        return total, {"hm": hm.detach(), "wh": wh.detach(), "off": off.detach()}

    def extra_repr(self) -> str:
        return (f"hm_weight={self.hm_weight}, wh_weight={self.wh_weight}, "
                f"off_weight={self.off_weight}, clamp={self.clamp}")


def _head(stack: Dict[str, torch.Tensor], name: str, weight: str = "") -> torch.Tensor:
    if not isinstance(stack, dict):
        raise ValueError(f"CenterNetLoss: every stack output must be a dict of head maps, got "
                         f"{type(stack).__name__}")
    if name not in stack:
        hint = f"; set {weight}=0 to train without it" if weight else ""
        raise ValueError(f"CenterNetLoss: the model output has no {name!r} map (maps: "
                         f"{sorted(stack)}){hint}")
    return stack[name]


def _add(acc, value):
    return value if acc is None else acc + value
