"""Colour augmentation and normalisation of CenterNet's data pipeline.

Images here are float32 [3, H, W] tensors in RGB order with values in [0, 1]. The original
pipeline works on OpenCV's BGR arrays; its constants given in BGR order are kept as they are and
re-ordered where they are used, so that the numbers stay checkable against the original.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import torch

# Grayscale weights of OpenCV's BGR2GRAY, which the original jitter blends with (R, G, B order).
GRAY_WEIGHTS_RGB = (0.299, 0.587, 0.114)

# PCA of COCO pixel colours used by the original lighting noise, rows and columns in BGR order.
COCO_EIGVAL_BGR = np.array([0.2141788, 0.01817699, 0.00341571], dtype=np.float32)
COCO_EIGVEC_BGR = np.array([[-0.58752847, -0.69563484, 0.41340352],
                            [-0.5832747, 0.00994535, -0.81221408],
                            [-0.56089297, 0.71832671, 0.41158938]], dtype=np.float32)


@dataclass(frozen=True)
class Normalization:
    """How the network input is made from an RGB image in [0, 1].

    channel_order: "bgr" or "rgb", the order of the output channels.
    mean, std: per-channel statistics, in ``channel_order``.
    """

    channel_order: str
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]

    def __post_init__(self):
        if self.channel_order not in ("bgr", "rgb"):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb'; got {self.channel_order!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each, std positive; got {self}")


# The original CenterNet COCO statistics: BGR channel order, as the model-zoo weights expect.
COCO_BGR = Normalization("bgr", (0.40789654, 0.44719302, 0.47026115),
                         (0.28863828, 0.27408164, 0.27809835))
# torchvision's ImageNet statistics in RGB order, for backbones pretrained that way.
IMAGENET_RGB = Normalization("rgb", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: The normalisations by the names configs and command lines use.
NORMALIZATIONS = {"coco_bgr": COCO_BGR, "imagenet_rgb": IMAGENET_RGB}


def normalize(image: torch.Tensor, norm: Normalization = COCO_BGR) -> torch.Tensor:
    """float32 [3, H, W] RGB in [0, 1] -> float32 [3, H, W] (image - mean) / std in
    ``norm.channel_order``."""
    if norm.channel_order == "bgr":
        image = image.flip(0)
    mean = image.new_tensor(norm.mean).view(3, 1, 1)
    std = image.new_tensor(norm.std).view(3, 1, 1)
    return (image - mean) / std


def grayscale(image: torch.Tensor) -> torch.Tensor:
    """float [3, H, W] RGB -> [H, W] luma with OpenCV's weights."""
    return torch.einsum("c,chw->hw", image.new_tensor(GRAY_WEIGHTS_RGB), image)


def color_jitter_(image: torch.Tensor, rng: np.random.Generator, strength: float = 0.4) -> None:
    """The original brightness, contrast and saturation jitter, in place, in a random order.

    Each factor is 1 + U(-strength, strength): brightness scales the image, contrast blends it
    with its mean gray value, saturation with its grayscale. As in the original, the grayscale is
    taken once, before any jitter, and nothing is clipped.
    """
    gray = grayscale(image)
    gray_mean = gray.mean()

    def brightness(alpha):
        image.mul_(alpha)

    def contrast(alpha):
        image.mul_(alpha).add_(gray_mean * (1 - alpha))

    def saturation(alpha):
        image.mul_(alpha).add_(gray * (1 - alpha))

    for index in rng.permutation(3):
        alpha = 1.0 + rng.uniform(-strength, strength)
        (brightness, contrast, saturation)[index](alpha)


def lighting_(image: torch.Tensor, rng: np.random.Generator, std: float = 0.1,
              eigval: np.ndarray = COCO_EIGVAL_BGR, eigvec: np.ndarray = COCO_EIGVEC_BGR) -> None:
    """AlexNet-style PCA lighting noise, in place: adds eigvec @ (eigval * alpha) to every pixel,
    alpha ~ N(0, std^2) per component; ``eigval``/``eigvec`` in BGR order as the original."""
    alpha = rng.normal(0.0, std, size=3)
    shift_bgr = eigvec.astype(np.float64) @ (eigval.astype(np.float64) * alpha)
    image.add_(image.new_tensor(shift_bgr[::-1].copy()).view(3, 1, 1))


def color_augment_(image: torch.Tensor, rng: np.random.Generator, jitter: float = 0.4,
                   lighting_std: float = 0.1) -> None:
    """The original ``color_aug``, in place: the jitter, then the lighting noise."""
    color_jitter_(image, rng, jitter)
    lighting_(image, rng, lighting_std)
