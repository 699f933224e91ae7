"""The built-in synthetic detection dataset: shapes on textured backgrounds, written to disk as a
real COCO-format dataset so that it takes exactly the code path of real data.

Every image is drawn from its own generator, ``numpy.random.default_rng((seed, split, index))``
(split 0 = train, 1 = val), so a split does not depend on the size of the other and the files are
the same on every run. Classes differ by shape only: the colours of all classes come from the same
distribution, so a detector has to learn the outlines.
"""

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from centernet_fast.atomic_files import write_json_atomic
from centernet_fast.data.affine import as_size
from centernet_fast.data.coco import CocoSplit

CLASS_NAMES = ("rectangle", "ellipse", "triangle")
SPLITS = ("train", "val")
FORMAT_VERSION = 1
# Shapes are drawn at this many times the resolution and box-filtered down: anti-aliased edges.
SUPERSAMPLE = 4
# A new object may hide at most this fraction of an earlier object's box, and overlap any box
# with at most this IoU: partial occlusion, every object still clearly visible.
MAX_HIDDEN = 0.35
MAX_IOU = 0.3
# Object colours differ from the background under them by at least this RGB distance.
MIN_CONTRAST = 90.0


@dataclass(frozen=True)
class SyntheticObject:
    """One drawn object: ``label`` indexes CLASS_NAMES; ``box`` (x1, y1, x2, y2) integer pixels is
    the shape's tight box; ``fill`` is the fraction of the box the shape covers."""

    label: int
    box: Tuple[int, int, int, int]
    fill: float


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """float32 [H, W, 3]: a colour gradient, low-frequency texture and a few faint strokes."""
    base = rng.uniform(40, 215, size=3)
    amplitude = rng.uniform(-60, 60, size=3)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / max(height, width)
    canvas = base + ramp[..., None] * amplitude
    coarse = torch.from_numpy(rng.normal(0, 18, size=(1, 3, 6, 6)).astype(np.float32))
    texture = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    canvas = canvas + texture[0].permute(1, 2, 0).numpy()
    strokes = Image.new("RGB", (width, height))
    mask = Image.new("L", (width, height))
    for _ in range(int(rng.integers(0, 5))):
        points = [tuple(float(v) for v in rng.uniform(0, [width, height])) for _ in range(2)]
        color = tuple(int(v) for v in np.clip(base + rng.uniform(-35, 35, size=3), 0, 255))
        line_width = int(rng.integers(1, 3))
        ImageDraw.Draw(strokes).line(points, fill=color, width=line_width)
        ImageDraw.Draw(mask).line(points, fill=255, width=line_width)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255
    return (canvas * (1 - alpha) + np.asarray(strokes, dtype=np.float32) * alpha).astype(np.float32)


def _shape_mask(rng: np.random.Generator, label: int, width: int, height: int) -> np.ndarray:
    """float32 [height, width] anti-aliased coverage in [0, 1] of a shape filling its box."""
    big_w, big_h = width * SUPERSAMPLE, height * SUPERSAMPLE
    image = Image.new("L", (big_w, big_h), 0)
    draw = ImageDraw.Draw(image)
    right, bottom = big_w - 1, big_h - 1
    if CLASS_NAMES[label] == "rectangle":
        draw.rectangle([0, 0, right, bottom], fill=255)
    elif CLASS_NAMES[label] == "ellipse":
        draw.ellipse([0, 0, right, bottom], fill=255)
    else:  # triangle: apex anywhere along one side, base along the opposite side
        t = rng.uniform(0.1, 0.9)
        side = int(rng.integers(4))
        vertices = [[(t * right, 0), (right, bottom), (0, bottom)],
                    [(t * right, bottom), (right, 0), (0, 0)],
                    [(0, t * bottom), (right, 0), (right, bottom)],
                    [(right, t * bottom), (0, 0), (0, bottom)]][side]
        draw.polygon(vertices, fill=255)
    small = image.resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def _overlap_ok(box, boxes) -> bool:
    x1, y1, x2, y2 = box
    area = (x2 - x1) * (y2 - y1)
    for a1, b1, a2, b2 in boxes:
        inter = max(0, min(x2, a2) - max(x1, a1)) * max(0, min(y2, b2) - max(y1, b1))
        other = (a2 - a1) * (b2 - b1)
        if inter > MAX_HIDDEN * other or inter > MAX_IOU * (area + other - inter):
            return False
    return True


def _object_color(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour at least MIN_CONTRAST away from the mean colour ``under`` it."""
    mean = under.reshape(-1, 3).mean(axis=0)
    for _ in range(20):
        color = rng.uniform(0, 255, size=3)
        if np.linalg.norm(color - mean) >= MIN_CONTRAST:
            return color
    return np.where(mean < 128, 255.0, 0.0)


def draw_synthetic_image(rng: np.random.Generator, image_size: Tuple[int, int],
                         objects: Tuple[int, int] = (1, 6), min_size: int = 8,
                         max_size: Optional[int] = None
                         ) -> Tuple[np.ndarray, List[SyntheticObject]]:
    """Draws one image.

    Args:
        rng: every random choice comes from it.
        image_size: (height, width).
        objects: (fewest, most) objects; fewer are drawn when no free place is found.
        min_size, max_size: box side range in pixels (default max: a third of the shorter side).
    Returns:
        (uint8 [H, W, 3] RGB image, its objects in drawing order). Box sides are uniform in
        [min_size, max_size] with aspect ratios in [1/2, 2]; boxes lie inside the image and overlap
        partially at most (MAX_HIDDEN, MAX_IOU). Each object has its own colour (contrasting with
        the background) and shading; the whole image gets pixel noise.
    """
    height, width = image_size
    max_size = min(height, width) // 3 if max_size is None else max_size
    if not 1 <= min_size <= max_size <= min(height, width):
        raise ValueError(f"need 1 <= min_size <= max_size <= image side; got {min_size}, "
                         f"{max_size}, image {height}x{width}")
    canvas = _background(rng, height, width)
    drawn: List[SyntheticObject] = []
    for _ in range(int(rng.integers(objects[0], objects[1] + 1))):
        label = int(rng.integers(len(CLASS_NAMES)))
        for _attempt in range(50):
            side = rng.uniform(min_size, max_size)
            aspect = math.exp(rng.uniform(-math.log(2), math.log(2)))
            w = int(np.clip(round(side * math.sqrt(aspect)), min_size, max_size))
            h = int(np.clip(round(side / math.sqrt(aspect)), min_size, max_size))
            x1, y1 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            box = (x1, y1, x1 + w, y1 + h)
            if _overlap_ok(box, [o.box for o in drawn]):
                break
        else:
            continue
        region = canvas[y1:y1 + h, x1:x1 + w]
        alpha = _shape_mask(rng, label, w, h)[..., None]
        color = _object_color(rng, region)
        # A linear shading across the object, so that its surface is not flat.
        angle, strength = rng.uniform(0, 2 * math.pi), rng.uniform(-0.3, 0.3)
        ys, xs = np.mgrid[0:h, 0:w]
        ramp = ((xs / w - 0.5) * math.cos(angle) + (ys / h - 0.5) * math.sin(angle))
        paint = color * (1 + strength * ramp[..., None])
        canvas[y1:y1 + h, x1:x1 + w] = region * (1 - alpha) + paint * alpha
        drawn.append(SyntheticObject(label, box, float(alpha.mean())))
    canvas += rng.normal(0, 6, size=canvas.shape)
    return np.clip(np.rint(canvas), 0, 255).astype(np.uint8), drawn


@dataclass(frozen=True)
class _Params:
    num_train: int
    num_val: int
    image_size: Tuple[int, int]
    seed: int
    objects: Tuple[int, int]
    min_size: int
    max_size: Optional[int]
    image_format: str
    version: int = FORMAT_VERSION


def _write_split(out_dir: str, split: str, count: int, params: _Params) -> CocoSplit:
    image_dir = os.path.join(out_dir, split)
    os.makedirs(image_dir, exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        rng = np.random.default_rng((params.seed, SPLITS.index(split), index))
        pixels, objects = draw_synthetic_image(rng, params.image_size, params.objects,
                                               params.min_size, params.max_size)
        file_name = f"{index:06d}.{params.image_format}"
        save_args = {"quality": 92} if params.image_format == "jpg" else {}
        Image.fromarray(pixels).save(os.path.join(image_dir, file_name), **save_args)
        image_id = index + 1
        images.append({"id": image_id, "file_name": file_name,
                       "height": params.image_size[0], "width": params.image_size[1]})
        for obj in objects:
            x1, y1, x2, y2 = obj.box
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": obj.label + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": i + 1, "name": name, "supercategory": "shape"}
                  for i, name in enumerate(CLASS_NAMES)]
    ann_file = os.path.join(out_dir, "annotations", f"instances_{split}.json")
    os.makedirs(os.path.dirname(ann_file), exist_ok=True)
    write_json_atomic(ann_file, {
        "info": {"description": f"centernet_fast synthetic shapes, {split}"},
        "images": images, "annotations": annotations, "categories": categories})
    return CocoSplit(image_dir, ann_file)


def write_synthetic_coco(out_dir: str, num_train: int = 2000, num_val: int = 200,
                         image_size: Union[int, Sequence[int]] = 256, seed: int = 0, *,
                         objects: Tuple[int, int] = (1, 6), min_size: int = 8,
                         max_size: Optional[int] = None, image_format: str = "jpg"
                         ) -> Dict[str, CocoSplit]:
    """Writes the synthetic dataset as COCO: ``out_dir/{train,val}/NNNNNN.<format>`` images and
    ``out_dir/annotations/instances_{train,val}.json``, categories 1..3 = CLASS_NAMES.

    Args:
        out_dir: the dataset folder (created).
        num_train, num_val: images per split.
        image_size: (height, width), or one int for squares.
        seed: the dataset seed (see the module docstring).
        objects, min_size, max_size: see ``draw_synthetic_image``.
        image_format: "jpg" (quality 92, small files) or "png" (lossless).
    Returns:
        {"train": CocoSplit, "val": CocoSplit}. When ``out_dir`` already holds a dataset written
        with the same arguments (its ``synthetic.json`` records them, written last), nothing is
        redrawn.
    """
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be 'jpg' or 'png'; got {image_format!r}")
    if num_train < 0 or num_val < 0 or objects[0] < 0 or objects[1] < objects[0]:
        raise ValueError(f"bad counts: num_train={num_train}, num_val={num_val}, "
                         f"objects={objects}")
    params = _Params(num_train, num_val, as_size(image_size), int(seed),
                     (int(objects[0]), int(objects[1])), int(min_size),
                     None if max_size is None else int(max_size), image_format)
    record = json.loads(json.dumps(asdict(params)))  # tuples as lists, as read back
    manifest = os.path.join(out_dir, "synthetic.json")
    splits = {split: CocoSplit(os.path.join(out_dir, split),
                               os.path.join(out_dir, "annotations", f"instances_{split}.json"))
              for split in SPLITS}
    try:
        with open(manifest, encoding="utf-8") as f:
            if json.load(f) == record and all(os.path.isfile(s.ann_file) for s in splits.values()):
                return splits
    except (OSError, ValueError):
        pass
    if os.path.exists(manifest):
        os.remove(manifest)  # the old files no longer match it while being rewritten
    counts = {"train": num_train, "val": num_val}
    splits = {split: _write_split(out_dir, split, counts[split], params) for split in SPLITS}
    write_json_atomic(manifest, record)
    return splits
