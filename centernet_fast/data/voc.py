"""Pascal-VOC XML annotations -> a COCO instances JSON.

VOC boxes are 1-based inclusive pixel indices: (xmin, xmax) = (1, W) spans the whole width. In
COCO's continuous coordinates that box is [xmin - 1, xmax], so width = xmax - xmin + 1, as the
VOC development kit measures it.
"""

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from centernet_fast.data.errors import DatasetError, SkipLog
from centernet_fast.data.images import find_image, image_size

DIFFICULT_MODES = ("keep", "crowd", "drop")


@dataclass(frozen=True)
class VocObject:
    """One ``<object>``: its class name, (xmin, ymin, xmax, ymax) as written, difficult flag."""

    name: str
    box: Tuple[float, float, float, float]
    difficult: bool


@dataclass(frozen=True)
class VocAnnotation:
    """One VOC XML file: the image ``<filename>``, ``<size>`` (0 where absent) and objects."""

    path: str
    filename: str
    width: int
    height: int
    objects: List[VocObject]


def _number(node, tag: str) -> float:
    text = node.findtext(tag)
    if text is None:
        raise ValueError(f"no <{tag}>")
    return float(text)


def read_voc_xml(path: str, skips: Optional[SkipLog] = None) -> VocAnnotation:
    """Parses a VOC XML file.

    Objects without a name or a numeric ``<bndbox>`` are skipped and logged.

    Raises:
        DatasetError: naming the file, if it is missing, not XML, or not a VOC ``<annotation>``.
    """
    skips = skips or SkipLog(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DatasetError(f"cannot read VOC annotation {path}: {exc}") from exc
    if root.tag != "annotation":
        raise DatasetError(f"{path} is not a VOC annotation: root element <{root.tag}>")
    size = root.find("size")
    try:
        width = int(float(size.findtext("width", "0"))) if size is not None else 0
        height = int(float(size.findtext("height", "0"))) if size is not None else 0
    except ValueError as exc:
        raise DatasetError(f"{path}: <size> is not numeric: {exc}") from exc
    objects = []
    for i, obj in enumerate(root.iter("object")):
        name = (obj.findtext("name") or "").strip()
        bndbox = obj.find("bndbox")
        try:
            if not name or bndbox is None:
                raise ValueError("no <name> or no <bndbox>")
            box = tuple(_number(bndbox, t) for t in ("xmin", "ymin", "xmax", "ymax"))
            difficult = int(float(obj.findtext("difficult", "0") or 0)) != 0
        except ValueError as exc:
            skips.skip("malformed object", f"{path} object {i}: {exc}")
            continue
        objects.append(VocObject(name, box, difficult))
    return VocAnnotation(path, (root.findtext("filename") or "").strip(), width, height, objects)


def _resolve_image(ann: VocAnnotation, image_dir: Optional[str]) -> Tuple[str, int, int]:
    """(file name relative to image_dir, width, height) of the image an XML file describes."""
    if image_dir is None:
        if not ann.filename or ann.width <= 0 or ann.height <= 0:
            raise DatasetError(f"{ann.path}: needs <filename> and a positive <size>, or an image "
                               "folder to find the image and its size in")
        return ann.filename, ann.width, ann.height
    # Look for <filename>, then its stem with any image extension (tools often name the source
    # TIFF of an exported PNG), then the XML file's own stem.
    xml_stem = os.path.splitext(os.path.basename(ann.path))[0]
    path = None
    for name in [n for n in (ann.filename, xml_stem) if n]:
        path = find_image(image_dir, name)
        if path:
            break
    if path is None:
        raise DatasetError(f"{ann.path}: no image {ann.filename or xml_stem!r} (or the same name "
                           f"with another image extension) in {image_dir}")
    height, width = image_size(path)
    return os.path.relpath(path, image_dir), width, height


def voc_to_coco(xml_files: Sequence[str], image_dir: Optional[str] = None,
                categories: Optional[Sequence[str]] = None, out_file: Optional[str] = None, *,
                one_based: bool = True, difficult: str = "keep") -> dict:
    """Converts VOC XML files to one COCO instances dataset.

    Args:
        xml_files: the XML files; image ids 1, 2, ... follow this order.
        image_dir: the images folder: each XML's image is looked up there (see the module) and
            its size read from the file. Without it, ``<filename>`` and ``<size>`` are trusted.
        categories: class names, ids 1, 2, ... in this order; objects of other names are skipped
            and logged. Default: the sorted names found.
        out_file: where to write the JSON (optional).
        one_based: the XML holds VOC's 1-based inclusive indices (x1 = xmin - 1); False for
            tools that write 0-based continuous coordinates (x1 = xmin).
        difficult: "keep" difficult objects as ordinary ones, mark them "crowd" (iscrowd = 1:
            COCO evaluation ignores them, as VOC's does) or "drop" them.
    Returns:
        the COCO dict (images, annotations with bbox [x, y, w, h], area, iscrowd, categories).
        Boxes of non-positive width or height are skipped and logged.
    Raises:
        DatasetError: naming the file, for an unreadable XML or an image that cannot be found.
    """
    if difficult not in DIFFICULT_MODES:
        raise ValueError(f"difficult must be one of {DIFFICULT_MODES}; got {difficult!r}")
    skips = SkipLog("VOC conversion")
    parsed = [read_voc_xml(path, skips) for path in xml_files]
    names = list(categories) if categories is not None else sorted(
        {obj.name for ann in parsed for obj in ann.objects})
    cat_id: Dict[str, int] = {name: i + 1 for i, name in enumerate(names)}
    offset = 1.0 if one_based else 0.0
    images, annotations = [], []
    for image_id, ann in enumerate(parsed, start=1):
        file_name, width, height = _resolve_image(ann, image_dir)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for i, obj in enumerate(ann.objects):
            xmin, ymin, xmax, ymax = obj.box
            x, y = xmin - offset, ymin - offset
            w, h = xmax - x, ymax - y
            where = f"{ann.path} object {i} ({obj.name}, box {list(obj.box)})"
            if obj.name not in cat_id:
                skips.skip("unknown class name", where)
            elif not (w > 0 and h > 0):
                skips.skip("empty box", where)
            elif not (obj.difficult and difficult == "drop"):
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id,
                    "category_id": cat_id[obj.name], "bbox": [x, y, w, h], "area": w * h,
                    "iscrowd": int(obj.difficult and difficult == "crowd")})
    skips.summarize()
    data = {"images": images, "annotations": annotations,
            "categories": [{"id": i, "name": n} for n, i in cat_id.items()]}
    if out_file is not None:
        with open(out_file, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
    return data
