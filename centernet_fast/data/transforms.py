"""The CenterNet ctdet image pipeline: the training augmentation and the test-time resize or
``keep_res`` padding, each one affine warp of the image and its boxes.

Training (``src/lib/datasets/sample/ctdet.py`` of the original): a crop centre and scale are drawn
(the CornerNet-style random crop, or the ``not_rand_crop`` shift/scale variant), then a horizontal
flip with probability 0.5; one affine warp takes the image to the input size; colour jitter and
PCA lighting follow; boxes take the same transform, scaled to the output map (input / down_ratio)
and clipped to it.
"""

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from centernet_fast.data.affine import (Size, as_size, clip_boxes, compose, get_affine_transform,
                                        hflip_transform, invert, transform_boxes, warp_image)
from centernet_fast.data.color import COCO_BGR, Normalization, color_augment_, normalize

# The original draws the crop scale from np.arange(0.6, 1.4, 0.1): 0.6, 0.7, ..., 1.3.
CROP_SCALES = tuple(round(0.6 + 0.1 * i, 1) for i in range(8))
CROP_MODES = ("random", "shift_scale", "none")


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentation, with the original CenterNet defaults.

    crop: "random" (CornerNet-style: scale from ``crop_scales``, centre uniform at least
        ``crop_border`` from the sides, the border halved until it fits), "shift_scale" (the
        original ``not_rand_crop``: centre moved by N(0, shift) times the scale, clipped to
        +-2 shift; scale times N(1, scale), clipped to 1 +- scale) or "none".
    flip: probability of a horizontal flip.
    color: colour jitter (brightness, contrast, saturation of strength ``jitter``) and PCA
        lighting (``lighting_std``).
    """

    crop: str = "random"
    crop_scales: Tuple[float, ...] = CROP_SCALES
    crop_border: int = 128
    shift: float = 0.1
    scale: float = 0.4
    flip: float = 0.5
    color: bool = True
    jitter: float = 0.4
    lighting_std: float = 0.1

    def __post_init__(self):
        if self.crop not in CROP_MODES:
            raise ValueError(f"crop must be one of {CROP_MODES}; got {self.crop!r}")
        if not 0.0 <= self.flip <= 1.0:
            raise ValueError(f"flip must be a probability; got {self.flip}")


@dataclass(frozen=True)
class Warp:
    """Where an image went: the affine warp of one sample.

    center, scale: the original's ``c`` and ``s`` (the source point at the input centre and the
        source length spanning the input width), in original-image pixels.
    flipped: whether the sample was mirrored.
    input_size, output_size: (height, width) of the network input and of the output map.
    image_to_input: float64 [2, 3] transform from original-image to input coordinates.
    image_to_output, output_to_image: float64 [2, 3] transforms between original-image and
        output-map coordinates, inverse to each other. ``output_to_image`` takes decoded
        detections back to the original image, as the original ``transform_preds``.
    All three include the flip.
    """

    center: Tuple[float, float]
    scale: float
    flipped: bool
    input_size: Size
    output_size: Size
    image_to_input: np.ndarray
    image_to_output: np.ndarray
    output_to_image: np.ndarray


def _get_border(border: int, size: int) -> int:
    """The original crop border: ``border`` halved until the sides leave a range for the centre."""
    i = 1
    while size - border // i <= border // i:
        i *= 2
    return border // i


class CtdetTransform:
    """Turns an RGB image and its boxes into a network input and boxes on the output map.

    Args:
        input_size: (height, width), or one int for a square, of the network input; unused with
            ``keep_res``.
        down_ratio: the output stride: the output map is input // down_ratio on each side.
        train: draw the augmentation of ``augment`` (needs a generator at call time).
        keep_res: keep the image resolution, padding each side to the next multiple of pad + 1
            as the original ((side | pad) + 1: a side that already is a multiple still grows by
            pad + 1); otherwise scale the longer side to the input size, centred.
        pad: 31 (127 for Hourglass in the original).
        augment: training augmentation; ignored when not ``train``.
        normalization: channel order and statistics of the input (default: the original BGR COCO
            mean/std).
    """

    def __init__(self, input_size: Union[int, Sequence[int]] = 512, down_ratio: int = 4,
                 train: bool = False, keep_res: bool = False, pad: int = 31,
                 augment: AugmentConfig = AugmentConfig(),
                 normalization: Normalization = COCO_BGR):
        self.input_size = as_size(input_size)
        if min(self.input_size) <= 0 or down_ratio <= 0:
            raise ValueError(f"input_size and down_ratio must be positive; got {input_size}, "
                             f"{down_ratio}")
        self.down_ratio = int(down_ratio)
        self.train = train
        self.keep_res = keep_res
        self.pad = int(pad)
        self.augment = augment
        self.normalization = normalization

    def base_geometry(self, height: int, width: int) -> Tuple[Tuple[float, float], float, Size]:
        """Centre, scale and input size before augmentation, for an image of height x width."""
        if self.keep_res:
            input_size = ((height | self.pad) + 1, (width | self.pad) + 1)
            # The integer centre of the original test code: a whole-pixel shift, no resampling.
            return (float(width // 2), float(height // 2)), float(input_size[1]), input_size
        return (width / 2.0, height / 2.0), float(max(height, width)), self.input_size

    def sample_augmentation(self, rng: np.random.Generator, height: int, width: int,
                            center: Tuple[float, float], scale: float
                            ) -> Tuple[Tuple[float, float], float, bool]:
        """Draws the crop (centre, scale) and the flip, in the original's order."""
        cfg = self.augment
        cx, cy = center
        if cfg.crop == "random":
            scale = scale * float(rng.choice(cfg.crop_scales))
            w_border = _get_border(cfg.crop_border, width)
            h_border = _get_border(cfg.crop_border, height)
            cx = float(rng.integers(w_border, width - w_border))
            cy = float(rng.integers(h_border, height - h_border))
        elif cfg.crop == "shift_scale":
            cx += scale * float(np.clip(rng.normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift))
            cy += scale * float(np.clip(rng.normal() * cfg.shift, -2 * cfg.shift, 2 * cfg.shift))
            scale = scale * float(np.clip(rng.normal() * cfg.scale + 1, 1 - cfg.scale,
                                          1 + cfg.scale))
        flipped = bool(rng.random() < cfg.flip)
        return (cx, cy), scale, flipped

    def warp(self, height: int, width: int, rng: Optional[np.random.Generator] = None) -> Warp:
        """The geometry of one sample of an image of height x width (drawn from ``rng`` when
        training)."""
        center, scale, input_size = self.base_geometry(height, width)
        flipped = False
        if self.train:
            if rng is None:
                raise ValueError("a training transform needs a numpy Generator")
            center, scale, flipped = self.sample_augmentation(rng, height, width, center, scale)
        output_size = (input_size[0] // self.down_ratio, input_size[1] // self.down_ratio)

        def image_to(size):
            m = get_affine_transform(center, scale, size)
            # Mirroring the result equals the original's flip of the image and the crop centre.
            return compose(hflip_transform(size[1]), m) if flipped else m

        image_to_output = image_to(output_size)
        return Warp(center, scale, flipped, input_size, output_size, image_to(input_size),
                    image_to_output, invert(image_to_output))

    def __call__(self, image: np.ndarray, boxes: torch.Tensor,
                 rng: Optional[np.random.Generator] = None
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Warp]:
        """Transforms one image and its boxes.

        Args:
            image: uint8 [H, W, 3] RGB.
            boxes: float32 [N, 4] (x1, y1, x2, y2) in image pixels.
            rng: the generator every random draw comes from (required when training).
        Returns:
            (input float32 [3, in_h, in_w] normalised, boxes float32 [M, 4] on the output map
            clipped to [0, out_w] x [0, out_h], keep bool [N] telling which of the N boxes are
            the M returned (the others left the crop), the Warp).
        """
        height, width = image.shape[:2]
        warp = self.warp(height, width, rng)
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
        inp = warp_image(pixels, warp.image_to_input, warp.input_size).div_(255.0)
        if self.train and self.augment.color:
            color_augment_(inp, rng, self.augment.jitter, self.augment.lighting_std)
        inp = normalize(inp, self.normalization)
        out_boxes, keep = clip_boxes(transform_boxes(boxes, warp.image_to_output),
                                     warp.output_size)
        return inp, out_boxes[keep], keep, warp
