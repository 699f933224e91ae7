"""Running a CenterNet model as a detector: evaluation mode for the duration, the forward pass
(optionally with the flip test), decoding by the fused ``ctdet_decode``, and the decoded rows
taken back to original-image pixels."""

import contextlib
import itertools
from typing import Iterator, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import nn

from centernet_fast.data import Warp, clip_boxes, transform_boxes
from centernet_fast.ops import ctdet_decode


class ImageDetections(NamedTuple):
    """The detections of one image, in original-image pixels, best first.

    boxes: float64 [n, 4] (x1, y1, x2, y2), clipped to the image.
    scores: float32 [n] in (0, 1].
    labels: int64 [n] contiguous class labels (``dataset.cat_ids[label]`` is the COCO id).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Puts every submodule of ``model`` in eval mode under ``torch.no_grad`` and restores each
    one's own mode afterwards (a plain ``model.train(was_training)`` would also switch on
    submodules the caller keeps in eval mode, such as frozen BatchNorm layers)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for module, training in modes:
            module.training = training


def check_model_device(model: nn.Module, device) -> torch.device:
    """``torch.device(device)``, after checking that ``model``'s parameters live there."""
    device = torch.device(device)
    tensor = next(itertools.chain(model.parameters(), model.buffers()), None)
    if tensor is not None and (tensor.device.type != device.type or
                               (device.index is not None and tensor.device != device)):
        raise ValueError(f"the model is on {tensor.device} but device={device}; move it first "
                         f"(model.to({str(device)!r}))")
    return device


def _last_stack(outputs, num_classes: Optional[int]) -> dict:
    """The last stack's head maps, checked: the refined stack of Hourglass, the only one else."""
    if not isinstance(outputs, (list, tuple)) or not outputs or not isinstance(outputs[-1], dict):
        raise ValueError("the model must return a list of {head: map} dicts, one per stack; got "
                         f"{type(outputs).__name__}")
    out = outputs[-1]
    missing = [k for k in ("hm", "wh") if k not in out]
    if missing:
        raise ValueError(f"the model has no {missing} head(s); detection needs 'hm' and 'wh' "
                         f"('reg' optional); it has {sorted(out)}")
    if num_classes is not None and out["hm"].shape[1] != num_classes:
        raise ValueError(f"the model predicts {out['hm'].shape[1]} classes, expected "
                         f"{num_classes} (the dataset's categories or the class names given)")
    return out


def detect(model: nn.Module, images: torch.Tensor, *, K: int = 100, flip_test: bool = False,
           amp_dtype: Optional[torch.dtype] = None, threshold: Optional[float] = None,
           num_classes: Optional[int] = None) -> torch.Tensor:
    """Runs ``model`` on a batch and decodes the K best peaks of each image.

    Call it inside ``eval_mode(model)``.

    Args:
        model: a CenterNet model (a list of ``{"hm", "wh"[, "reg"]}`` dicts per stack; the last
            stack is decoded). ``wh`` with 2 * classes channels is decoded class-specifically.
        images: float32 [B, 3, H, W] normalised inputs on the model's device, H and W multiples
            of the backbone's stride.
        K: rows per image.
        flip_test: also run the mirrored batch (in the same forward, as the original) and
            average the heatmap probabilities and the box sizes with the mirrored-back maps; the
            centre offsets come from the plain pass only, as the original.
        amp_dtype: run the forward under ``torch.autocast`` in this dtype (None: float32).
        threshold: rows scoring below it get class -1 (see ``ctdet_decode``).
        num_classes: when given, the heatmap must have this many channels.
    Returns:
        float32 [B, K, 6] rows (x1, y1, x2, y2, score, class) in output-map units, on the model's
        device, as ``ops.ctdet_decode``.
    Raises:
        ValueError: outputs without ``hm``/``wh`` or with another number of classes.
    """
    batch = images.shape[0]
    inputs = torch.cat([images, images.flip(3)]) if flip_test else images
    with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        out = _last_stack(model(inputs), num_classes)
    hm, wh, reg = out["hm"], out["wh"], out.get("reg")
    cat_spec_wh = wh.shape[1] != 2
    if not flip_test:
        # Sigmoid on the K peaks only, inside the op (peaks of logits are peaks of probabilities).
        return ctdet_decode(hm, wh, reg, K=K, cat_spec_wh=cat_spec_wh, logits=True,
                            threshold=threshold)
    # Averaging needs probabilities on the whole map, as the original's flip test.
    heat = hm.float().sigmoid()
    heat = (heat[:batch] + heat[batch:].flip(3)) / 2
    wh = wh.float()
    wh = (wh[:batch] + wh[batch:].flip(3)) / 2
    reg = None if reg is None else reg[:batch]
    return ctdet_decode(heat, wh, reg, K=K, cat_spec_wh=cat_spec_wh, threshold=threshold)


def to_image_detections(rows: torch.Tensor, warp: Warp, image_size: Sequence[int]
                        ) -> ImageDetections:
    """One image's decoded rows taken back to its original pixels.

    Args:
        rows: float32 [K, 6] rows of ``detect`` for this image (any device).
        warp: the image's ``meta.warp``; ``warp.output_to_image`` maps the output map back.
        image_size: (height, width) of the original image.
    Returns:
        The rows that are detections (class >= 0 and score > 0: the tail of zero-score non-peak
        cells and thresholded rows are dropped), boxes clipped to the image; boxes left without
        area (wholly in the padding) are dropped too. Order kept (score descending).
    """
    rows = rows.detach().cpu()
    rows = rows[(rows[:, 5] >= 0) & (rows[:, 4] > 0)]
    boxes = transform_boxes(rows[:, :4].double(), warp.output_to_image)
    boxes, keep = clip_boxes(boxes, tuple(image_size))
    return ImageDetections(boxes[keep], rows[keep, 4], rows[keep, 5].long())


def batch_image_detections(rows: torch.Tensor, warps: Sequence[Warp],
                           image_sizes: Sequence[Tuple[int, int]]) -> list:
    """``to_image_detections`` of every image of a batch: rows [B, K, 6] copied to the host once."""
    rows = rows.detach().cpu()
    return [to_image_detections(r, w, s) for r, w, s in zip(rows, warps, image_sizes)]
