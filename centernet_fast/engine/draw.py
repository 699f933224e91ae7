"""Pictures of detections: boxes, class names and scores drawn on the image with Pillow."""

from typing import Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from centernet_fast.engine.detect import ImageDetections

# Well-separated colours (Tableau 10); class c gets PALETTE[c % 10].
PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def class_color(label: int) -> Tuple[int, int, int]:
    """The RGB colour boxes of class ``label`` are drawn in."""
    return PALETTE[int(label) % len(PALETTE)]


def draw_detections(image: np.ndarray, detections: ImageDetections, class_names: Sequence[str],
                    line_width: Optional[int] = None) -> Image.Image:
    """Draws detections on a copy of an image.

    Args:
        image: uint8 [H, W, 3] RGB (as ``data.read_image`` returns).
        detections: boxes in the image's pixels (``to_image_detections``), drawn worst first so
            that the best ones end on top.
        class_names: name of each label.
        line_width: box outline width in pixels; default grows with the image (1 px per 400 px
            of the shorter side, at least 2).
    Returns:
        An RGB PIL image: each box outlined in its class colour (``class_color``), the box's
        pixels [x1, x2) x [y1, y2) enclosed, with "name score" on a filled tag at its top left.
    """
    picture = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB")
    width = line_width or max(2, min(picture.size) // 400)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    order = range(len(detections.scores) - 1, -1, -1)
    for i in order:
        x1, y1, x2, y2 = detections.boxes[i].tolist()
        label = int(detections.labels[i])
        color = class_color(label)
        # Pillow's rectangle includes its end pixel; the box covers up to, not including, x2.
        draw.rectangle([round(x1), round(y1), max(round(x1), round(x2) - 1),
                        max(round(y1), round(y2) - 1)], outline=color, width=width)
        text = f"{class_names[label]} {float(detections.scores[i]):.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_w, tag_h = right - left + 4, bottom - top + 4
        # Above the box where there is room, else inside its top edge.
        tx = max(0, min(round(x1), picture.width - tag_w))  # kept inside the picture
        ty = round(y1) - tag_h if round(y1) >= tag_h else round(y1)
        draw.rectangle([tx, ty, tx + tag_w - 1, ty + tag_h - 1], fill=color)
        draw.text((tx + 2 - left, ty + 2 - top), text, fill=(255, 255, 255), font=font)
    return picture
