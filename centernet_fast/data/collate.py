"""Batching detection samples into padded tensors, and drawing their targets on the device."""

from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import torch

from centernet_fast.data.sample import ImageMeta, Sample
from centernet_fast.ops import CtdetTargets, ctdet_targets


@dataclass
class Batch:
    """A padded batch of B samples, the layout ``centernet_fast.ops.ctdet_targets`` takes.

    images: float32 [B, 3, H, W]; images smaller than the largest are zero-padded at the bottom
        and right, which leaves their coordinates (and warps) unchanged.
    boxes: float32 [B, N, 4] (x1, y1, x2, y2) on the output map, N the most boxes of any image;
        padding rows are zero.
    labels: int64 [B, N] contiguous labels, -1 for padding.
    metas: the B ImageMeta, in order.
    output_size: (height, width) of the output map of the padded images.
    """

    images: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    metas: List[ImageMeta]
    output_size: Tuple[int, int]

    def to(self, device, non_blocking: bool = False) -> "Batch":
        """The batch with its tensors on ``device`` (metas stay on the host)."""
        return replace(self, images=self.images.to(device, non_blocking=non_blocking),
                       boxes=self.boxes.to(device, non_blocking=non_blocking),
                       labels=self.labels.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":
        """Called by DataLoader(pin_memory=True) for faster, asynchronous copies to the GPU."""
        return replace(self, images=self.images.pin_memory(), boxes=self.boxes.pin_memory(),
                       labels=self.labels.pin_memory())


def collate_detections(samples: Sequence[Sample]) -> Batch:
    """Stacks samples into a Batch (``collate_fn`` for a DataLoader over a detection dataset)."""
    if not samples:
        raise ValueError("collate_detections: cannot batch zero samples")
    count = len(samples)
    height = max(s.image.shape[1] for s in samples)
    width = max(s.image.shape[2] for s in samples)
    images = samples[0].image.new_zeros(count, 3, height, width)
    num_boxes = max(s.boxes.shape[0] for s in samples)
    boxes = torch.zeros(count, num_boxes, 4, dtype=torch.float32)
    labels = torch.full((count, num_boxes), -1, dtype=torch.int64)
    for i, s in enumerate(samples):
        images[i, :, :s.image.shape[1], :s.image.shape[2]] = s.image
        boxes[i, :s.boxes.shape[0]] = s.boxes
        labels[i, :s.labels.shape[0]] = s.labels
    output_size = (max(s.meta.warp.output_size[0] for s in samples),
                   max(s.meta.warp.output_size[1] for s in samples))
    return Batch(images, boxes, labels, [s.meta for s in samples], output_size)


def batch_targets(batch: Batch, num_classes: int, output_size: Optional[Sequence[int]] = None,
                  max_objs: int = 128, **kwargs) -> CtdetTargets:
    """The CenterNet targets of a batch, drawn where its tensors are (move it to the training
    device first).

    Args:
        batch: a Batch from ``collate_detections``.
        num_classes: heatmap channels (the dataset's ``num_classes``).
        output_size: (height, width) of the output map; default ``batch.output_size``.
        max_objs: object slots per image (128 in the original).
        kwargs: ``min_overlap`` and ``radius_mode`` of ``ctdet_targets``.
    Returns:
        ``ctdet_targets(batch.boxes, batch.labels, num_classes, output_size, max_objs, ...)``.
    """
    size = batch.output_size if output_size is None else output_size
    return ctdet_targets(batch.boxes, batch.labels, num_classes, size, max_objs, **kwargs)
