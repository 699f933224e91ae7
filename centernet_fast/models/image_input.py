"""Checks of the image batch a backbone receives."""

import torch


def check_image_batch(x: torch.Tensor, multiple: int, model: str) -> None:
    """Raises ``ValueError`` unless ``x`` is a [B, 3, H, W] tensor with H and W multiples of
    ``multiple`` (the backbone's total downsampling): only then are the stride-4 outputs exactly
    [H / 4, W / 4] and the skip connections of equal size. The original CenterNet pads its test
    images to such multiples for the same reason."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{model}: input must be images [B, 3, H, W], got {got}")
    height, width = x.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(f"{model}: input height and width must be multiples of {multiple}, "
                         f"got {height} x {width}; pad the images")
