"""Helpers for the data tests: small COCO files, box-mask images, IoU, the shipped fixture."""

import json
import os

import numpy as np

DEEPFOREST_DIR = os.path.join(os.path.dirname(__file__), "data", "deepforest")
DEEPFOREST_JSON = os.path.join(DEEPFOREST_DIR, "instances.json")


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return str(path)


def box_mask_image(height, width, boxes):
    """uint8 [H, W, 3]: box c (integer x1, y1, x2, y2) painted 255 into channel c, else 0."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    for c, (x1, y1, x2, y2) in enumerate(boxes):
        image[y1:y2, x1:x2, c] = 255
    return image


def mask_extent(mask, threshold=0.5):
    """(x1, y1, x2, y2) continuous extent of the pixels above threshold in a [H, W] array, or
    None when there are none."""
    ys, xs = np.nonzero(np.asarray(mask) > threshold)
    if len(xs) == 0:
        return None
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
