"""The affine geometry of CenterNet's data pipeline: the crop-and-scale transform, its inverse,
the horizontal flip, and applying one transform to an image and its boxes alike.

Coordinates are continuous with pixel (row i, column j) covering [j, j + 1) x [i, i + 1), the
convention of COCO boxes. Images and boxes use this one convention, so a box moves with the
pixels it covers under any transform, flips included. Transforms are float64 [2, 3] numpy
matrices ``M`` mapping a point p to ``M[:, :2] @ p + M[:, 2]``; the ones made here have no
rotation, so boxes stay axis-aligned.
"""

from typing import Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

Size = Tuple[int, int]


def as_size(size: Union[int, Sequence[int]]) -> Size:
    """(height, width) from one int (a square) or a pair."""
    if isinstance(size, int):
        return size, size
    height, width = (int(s) for s in size)
    return height, width


def get_affine_transform(center: Sequence[float], scale: float, output_size: Size) -> np.ndarray:
    """The transform of the original ``get_affine_transform`` without rotation.

    Args:
        center: (x, y) of the source point that lands on the output centre.
        scale: the source length that spans the output width (the original's ``s``).
        output_size: (height, width) of the output.
    Returns:
        float64 [2, 3]: a uniform scaling by width / scale about ``center``, moved to the output
        centre: p -> (width / scale) * (p - center) + (width / 2, height / 2).
    """
    height, width = output_size
    k = width / float(scale)
    cx, cy = float(center[0]), float(center[1])
    return np.array([[k, 0.0, width / 2.0 - k * cx],
                     [0.0, k, height / 2.0 - k * cy]], dtype=np.float64)


def hflip_transform(width: float) -> np.ndarray:
    """The mirror x -> width - x of an image ``width`` wide, float64 [2, 3]."""
    return np.array([[-1.0, 0.0, float(width)], [0.0, 1.0, 0.0]], dtype=np.float64)


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The transform applying ``inner`` first, then ``outer``, float64 [2, 3]."""
    return (_homogeneous(outer) @ _homogeneous(inner))[:2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse transform, float64 [2, 3]."""
    return np.linalg.inv(_homogeneous(matrix))[:2]


def transform_boxes(boxes: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """Applies a rotation-free transform to boxes.

    Args:
        boxes: [..., 4] (x1, y1, x2, y2), any float dtype and device.
        matrix: float64 [2, 3] transform without rotation (every transform made here).
    Returns:
        [..., 4] boxes of the same dtype and device: both corners transformed (in float64) and
        re-ordered so that x1 <= x2 and y1 <= y2 again after a flip.
    """
    m = torch.as_tensor(np.asarray(matrix), dtype=torch.float64, device=boxes.device)
    corners = boxes.to(torch.float64).reshape(*boxes.shape[:-1], 2, 2)
    moved = corners @ m[:, :2].T + m[:, 2]
    lo, hi = moved.min(dim=-2).values, moved.max(dim=-2).values
    return torch.cat([lo, hi], dim=-1).to(boxes.dtype)


def clip_boxes(boxes: torch.Tensor, size: Size) -> Tuple[torch.Tensor, torch.Tensor]:
    """Clips boxes to an image and tells which keep an area.

    Args:
        boxes: [N, 4] (x1, y1, x2, y2).
        size: (height, width) of the image; boxes are clipped to [0, width] x [0, height].
    Returns:
        (clipped [N, 4] of the same dtype, keep bool [N]: x2 > x1 and y2 > y1 after clipping).
    """
    height, width = size
    upper = boxes.new_tensor([width, height, width, height])
    clipped = torch.minimum(boxes.clamp(min=0), upper)
    keep = (clipped[:, 2] > clipped[:, 0]) & (clipped[:, 3] > clipped[:, 1])
    return clipped, keep


def warp_image(image: torch.Tensor, matrix: np.ndarray, output_size: Size) -> torch.Tensor:
    """Resamples an image through a transform, as ``cv2.warpAffine`` with bilinear interpolation
    and a black constant border.

    Args:
        image: float [C, H, W].
        matrix: float64 [2, 3] from image coordinates to output coordinates.
        output_size: (height, width) of the output.
    Returns:
        [C, height, width] of the image's dtype: each output pixel is the bilinear sample of the
        image at the pre-image of its centre; samples outside the image blend with zeros.
    """
    in_h, in_w = image.shape[-2:]
    out_h, out_w = output_size
    # grid_sample with align_corners=False puts -1 and +1 on the outer pixel edges, so the
    # normalised coordinate of continuous x is 2 x / W - 1 on either side.
    to_unit_in = np.array([[2.0 / in_w, 0.0, -1.0], [0.0, 2.0 / in_h, -1.0]])
    from_unit_out = np.array([[out_w / 2.0, 0.0, out_w / 2.0], [0.0, out_h / 2.0, out_h / 2.0]])
    theta = compose(to_unit_in, compose(invert(matrix), from_unit_out))
    theta = torch.as_tensor(theta, dtype=torch.float32, device=image.device)[None]
    batch = image[None].float()
    grid = F.affine_grid(theta, [1, image.shape[0], out_h, out_w], align_corners=False)
    warped = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped[0].to(image.dtype)
