"""Reading images with Pillow: RGB uint8 arrays, and clear errors naming the file."""

import os
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from centernet_fast.data.errors import DatasetError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_image(path: str, expected_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Decodes an image file.

    Args:
        path: the image file.
        expected_size: (height, width) the annotations give, checked when not None.
    Returns:
        uint8 [H, W, 3] array in RGB order (grayscale, palette and alpha images are converted).
    Raises:
        DatasetError: naming the file, if it is missing, cannot be decoded, or has another size
            than ``expected_size`` (annotations for another picture would be silently wrong).
    """
    try:
        with Image.open(path) as image:
            array = np.array(image.convert("RGB"))  # writable, for torch.from_numpy
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc
    if expected_size is not None and array.shape[:2] != tuple(expected_size):
        raise DatasetError(f"image {path} is {array.shape[0]}x{array.shape[1]} (HxW) but its "
                           f"annotations say {expected_size[0]}x{expected_size[1]}")
    return array


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels.

    Raises:
        DatasetError: naming the file, if it is missing or not an image Pillow can read.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc
    return height, width


def find_image(directory: str, name: str) -> Optional[str]:
    """The path of ``name`` in ``directory``, or else of a file there with the same stem and an
    image extension (annotation tools often record the source TIFF of an exported PNG); None if
    neither exists."""
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return path
    stem = os.path.splitext(os.path.basename(name))[0]
    for ext in IMAGE_EXTENSIONS:
        for candidate in (stem + ext, stem + ext.upper()):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    return None
