"""COCO-format detection data: reading and checking an instances JSON, and the dataset that feeds
training and evaluation."""

import contextlib
import io
import json
import math
import os
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from pycocotools.coco import COCO

from centernet_fast.data.color import COCO_BGR, Normalization
from centernet_fast.data.errors import DatasetError, SkipLog
from centernet_fast.data.images import image_size, read_image
from centernet_fast.data.sample import ImageMeta, Sample
from centernet_fast.data.transforms import AugmentConfig, CtdetTransform


class CocoSplit(NamedTuple):
    """One split of a COCO-format dataset: the images folder and the instances JSON."""

    image_dir: str
    ann_file: str


def _read_json(ann_file: str):
    try:
        with open(ann_file, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise DatasetError(f"annotation file {ann_file} does not exist") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"annotation file {ann_file} is not readable JSON: {exc}") from exc


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_entries(ann_file: str, data: dict, key: str, fields: Dict[str, type]) -> List[dict]:
    """The list data[key], each entry a dict with ``fields`` of the given types and unique ids."""
    entries = data[key]
    if not isinstance(entries, list):
        raise DatasetError(f"{ann_file}: '{key}' must be a list; got {type(entries).__name__}")
    seen = set()
    for i, entry in enumerate(entries):
        ok = isinstance(entry, dict) and all(
            (_is_int(entry.get(name)) if kind is int else isinstance(entry.get(name), kind))
            for name, kind in fields.items())
        if not ok:
            wanted = ", ".join(f"'{name}' ({kind.__name__})" for name, kind in fields.items())
            raise DatasetError(f"{ann_file}: {key}[{i}] must be an object with {wanted}; got "
                               f"{str(entry)[:200]}")
        if entry["id"] in seen:
            raise DatasetError(f"{ann_file}: {key}[{i}] repeats id {entry['id']}")
        seen.add(entry["id"])
    return entries


def _image_sizes(ann_file: str, images: List[dict], image_dir: Optional[str]
                 ) -> Dict[int, Tuple[int, int]]:
    """(height, width) per image id: from the JSON, or from the image header where it has none."""
    sizes = {}
    for i, img in enumerate(images):
        height, width = img.get("height"), img.get("width")
        if height is None or width is None:
            if image_dir is None:
                raise DatasetError(f"{ann_file}: images[{i}] has no width/height and no image "
                                   "folder was given to read them from")
            height, width = image_size(os.path.join(image_dir, img["file_name"]))
        if not (_is_int(height) and _is_int(width) and height > 0 and width > 0):
            raise DatasetError(f"{ann_file}: images[{i}] needs positive integer width and height; "
                               f"got {width} x {height}")
        sizes[img["id"]] = (height, width)
    return sizes


def _clean_annotation(ann, sizes, cat_ids, seen_ids: set, skips: SkipLog) -> Optional[dict]:
    """A checked copy of one annotation, its box clipped to the image; None (logged) if unusable."""
    if not isinstance(ann, dict) or not all(_is_int(ann.get(k))
                                            for k in ("id", "image_id", "category_id")):
        skips.skip("malformed annotation", f"annotation {str(ann)[:120]}")
        return None
    what = f"annotation {ann['id']} of image {ann['image_id']}"
    if ann["id"] in seen_ids:  # pycocotools indexes by id: a repeat would hide the first
        skips.skip("repeated annotation id", what)
        return None
    seen_ids.add(ann["id"])
    if ann["image_id"] not in sizes:
        skips.skip("unknown image id", what)
        return None
    if ann["category_id"] not in cat_ids:
        skips.skip("unknown category id", f"{what}, category {ann['category_id']}")
        return None
    bbox = ann.get("bbox")
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in bbox)):
        skips.skip("malformed bbox", f"{what}, bbox {bbox}")
        return None
    x, y, w, h = (float(v) for v in bbox)
    if not (w > 0 and h > 0):
        skips.skip("zero-area box", f"{what}, bbox {bbox}")
        return None
    height, width = sizes[ann["image_id"]]
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if not (x2 > x1 and y2 > y1):
        skips.skip("box outside the image", f"{what}, bbox {bbox}, image {width}x{height}")
        return None
    clean = dict(ann)
    if (x1, y1, x2, y2) != (x, y, x + w, y + h):
        skips.repaired["clipped to the image"] += 1
        clean["bbox"] = [x1, y1, x2 - x1, y2 - y1]
    # COCOeval reads these from ground truth; COCO files may leave them out.
    clean.setdefault("area", (x2 - x1) * (y2 - y1))
    clean.setdefault("iscrowd", 0)
    return clean


def load_coco(ann_file: str, image_dir: Optional[str] = None) -> Tuple[COCO, Dict[str, int]]:
    """Reads and checks a COCO instances JSON.

    Args:
        ann_file: the JSON path.
        image_dir: the images folder, used to read the size of images the JSON gives none for.
    Returns:
        (pycocotools COCO over the usable annotations, counts of skipped annotations by reason).
        Each annotation needs integer ids (its own unique), a known image and category, and a
        finite box of positive width and height overlapping its image; it is clipped to the
        image. Others are
        skipped and logged (python logging, logger ``centernet_fast.data``). The returned COCO is
        the ground truth to evaluate against, so training and evaluation see the same objects.
    Raises:
        DatasetError: naming the file, if it is missing, not JSON, or not COCO (no 'images' and
            'categories' lists of objects with unique integer ids, file names and names).
    """
    data = _read_json(ann_file)
    if not isinstance(data, dict) or "images" not in data or "categories" not in data:
        raise DatasetError(f"{ann_file} is not a COCO instances file: expected a JSON object with "
                           "'images', 'annotations' and 'categories'")
    images = _check_entries(ann_file, data, "images", {"id": int, "file_name": str})
    categories = _check_entries(ann_file, data, "categories", {"id": int, "name": str})
    if not categories:
        raise DatasetError(f"{ann_file}: 'categories' is empty")
    annotations = data.get("annotations", [])  # image-info files (test splits) have none
    if not isinstance(annotations, list):
        raise DatasetError(f"{ann_file}: 'annotations' must be a list")
    sizes = _image_sizes(ann_file, images, image_dir)
    cat_ids = {c["id"] for c in categories}
    skips = SkipLog(ann_file)
    seen_ids = set()
    clean = [a for a in (_clean_annotation(ann, sizes, cat_ids, seen_ids, skips)
                         for ann in annotations) if a is not None]
    skips.summarize()
    images = [dict(img, height=sizes[img["id"]][0], width=sizes[img["id"]][1]) for img in images]
    coco = COCO()
    coco.dataset = dict(data, images=images, annotations=clean)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        coco.createIndex()
    return coco, dict(skips.counts)


class CocoDetection(torch.utils.data.Dataset):
    """A COCO-format detection dataset (an images folder and an instances JSON) for CenterNet.

    Args:
        image_dir: the folder the JSON's ``file_name`` entries are relative to.
        ann_file: the instances JSON.
        train: apply the training augmentation (a random sample per epoch, seeded), else the
            deterministic test transform.
        input_size, down_ratio, keep_res, pad, augment, normalization: see ``CtdetTransform``.
        seed: the random draws of image ``index`` in epoch ``e`` come from
            ``numpy.random.default_rng((seed, e, index))``, independent of worker processes.
        check_images: open every image header now, so that an unreadable image or one whose
            size differs from the JSON fails at construction instead of during training.

    Categories map to contiguous labels in ascending COCO id order: ``cat_ids[label]`` is the COCO
    category id and ``class_names[label]`` its name. Images are in JSON order; images without
    annotations are kept (as the original), as negatives. ``coco`` is the pycocotools ground
    truth; ``skipped`` counts the annotations skipped by reason (see ``load_coco``).

    Raises:
        DatasetError: naming the file, for an annotation file that is missing or not COCO, and
            for images that are missing (or, with ``check_images``, unreadable).
    """

    def __init__(self, image_dir: str, ann_file: str, *, train: bool = False,
                 input_size: Union[int, Sequence[int]] = 512, down_ratio: int = 4,
                 keep_res: bool = False, pad: int = 31, augment: AugmentConfig = AugmentConfig(),
                 normalization: Normalization = COCO_BGR, seed: int = 0,
                 check_images: bool = False):
        self.image_dir = image_dir
        self.ann_file = ann_file
        self.train = train
        self.seed = int(seed)
        self.epoch = 0
        self.transform = CtdetTransform(input_size, down_ratio, train, keep_res, pad, augment,
                                        normalization)
        self.coco, self.skipped = load_coco(ann_file, image_dir)
        cats = sorted(self.coco.dataset["categories"], key=lambda c: c["id"])
        self.cat_ids = [c["id"] for c in cats]
        self.class_names = [c["name"] for c in cats]
        self.cat_id_to_label = {cat_id: label for label, cat_id in enumerate(self.cat_ids)}
        self.image_ids = [img["id"] for img in self.coco.dataset["images"]]
        self._paths = [os.path.join(image_dir, self.coco.imgs[i]["file_name"])
                       for i in self.image_ids]
        self._check_files(check_images)
        self._targets = [self._image_targets(i) for i in self.image_ids]

    @property
    def num_classes(self) -> int:
        return len(self.cat_ids)

    def _check_files(self, check_images: bool) -> None:
        missing = [p for p in self._paths if not os.path.isfile(p)]
        if missing:
            raise DatasetError(f"{len(missing)} image(s) listed in {self.ann_file} are missing: "
                               + ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""))
        if check_images:
            for image_id, path in zip(self.image_ids, self._paths):
                size = image_size(path)
                expected = (self.coco.imgs[image_id]["height"], self.coco.imgs[image_id]["width"])
                if size != expected:
                    raise DatasetError(f"image {path} is {size[0]}x{size[1]} (HxW) but "
                                       f"{self.ann_file} says {expected[0]}x{expected[1]}")

    def _image_targets(self, image_id: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """float32 [N, 4] (x1, y1, x2, y2) image-pixel boxes and int64 [N] labels of an image."""
        anns = self.coco.imgToAnns.get(image_id, [])
        boxes = torch.tensor([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)],
                             dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([self.cat_id_to_label[a["category_id"]] for a in anns],
                              dtype=torch.int64)
        return boxes, labels

    def set_epoch(self, epoch: int) -> None:
        """Chooses the epoch whose random augmentation the training samples draw.

        Call it before iterating the epoch's DataLoader: worker processes take a copy of the
        dataset when they start, so with ``persistent_workers=True`` a later call misses them.
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> Sample:
        image_id, path = self.image_ids[index], self._paths[index]
        info = self.coco.imgs[image_id]
        image = read_image(path, (info["height"], info["width"]))
        rng = np.random.default_rng((self.seed, self.epoch, index)) if self.train else None
        boxes, labels = self._targets[index]
        inp, out_boxes, keep, warp = self.transform(image, boxes, rng)
        meta = ImageMeta(image_id, path, image.shape[:2], warp)
        return Sample(inp, out_boxes, labels[keep], meta)
