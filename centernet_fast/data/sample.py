"""What a detection dataset returns per image."""

from dataclasses import dataclass
from typing import Tuple

import torch

from centernet_fast.data.transforms import Warp


@dataclass
class ImageMeta:
    """Where a sample came from.

    image_id: the COCO image id (what detections are reported under).
    file_name: path of the image file.
    image_size: (height, width) of the original image.
    warp: the affine geometry of the sample; ``warp.output_to_image`` maps output-map
        coordinates back to original-image pixels.
    """

    image_id: int
    file_name: str
    image_size: Tuple[int, int]
    warp: Warp


@dataclass
class Sample:
    """One image of a detection dataset.

    image: float32 [3, H, W] normalised network input.
    boxes: float32 [N, 4] (x1, y1, x2, y2) on the output map (input / down_ratio), clipped to it.
    labels: int64 [N] contiguous class labels in [0, num_classes).
    meta: ImageMeta.
    """

    image: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    meta: ImageMeta
