"""Detection on image files: the test transform, the model, boxes back in image pixels, and the
results as JSON plus pictures."""

import os
from typing import Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from centernet_fast.data import COCO_BGR, CtdetTransform, DatasetError, Normalization, read_image
from centernet_fast.data.images import IMAGE_EXTENSIONS, image_size
from centernet_fast.engine.detect import (ImageDetections, check_model_device, detect, eval_mode,
                                          to_image_detections)
from centernet_fast.engine.draw import draw_detections
from centernet_fast.atomic_files import write_json_atomic
from centernet_fast.models.checkpoint import unwrap_model

PathLike = Union[str, os.PathLike]


def find_images(inputs: Union[PathLike, Sequence[PathLike]]) -> List[str]:
    """The image files named by ``inputs``: files as given, folders as their files with an image
    extension (sorted by name, not recursive). Every file's header is read, so a missing or
    unreadable image fails here, before any work.

    Raises:
        FileNotFoundError: a path that is neither a file nor a folder.
        DatasetError: a folder without images, or a file Pillow cannot read (naming it).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = []
    for item in map(os.fspath, inputs):
        if os.path.isdir(item):
            found = sorted(os.path.join(item, name) for name in os.listdir(item)
                           if name.lower().endswith(IMAGE_EXTENSIONS)
                           and os.path.isfile(os.path.join(item, name)))
            if not found:
                raise DatasetError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {item}")
            paths += found
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f"no such image file or folder: {item}")
    if not paths:
        raise ValueError("no input images given")
    for path in paths:
        image_size(path)
    return paths


def _picture_name(path: str, out_dir: str, taken: set) -> str:
    """``<stem>.png``, made unique among the pictures of this run and never an input file."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, n = f"{stem}.png", 1
    while name in taken or os.path.realpath(os.path.join(out_dir, name)) in taken:
        name, n = f"{stem}_{n}.png", n + 1
    taken.add(name)
    return name


def detection_record(path: str, size, detections: ImageDetections,
                     class_names: Sequence[str]) -> Dict:
    """The JSON record of one image: ``{"file_name", "height", "width", "detections": [{"box":
    [x1, y1, x2, y2] image pixels, "score", "label", "class_name"}, ...]}``, best first."""
    return {"file_name": path, "height": int(size[0]), "width": int(size[1]),
            "detections": [{"box": [round(v, 2) for v in box], "score": round(score, 4),
                            "label": label, "class_name": class_names[label]}
                           for box, score, label in zip(detections.boxes.tolist(),
                                                        detections.scores.tolist(),
                                                        detections.labels.tolist())]}


def predict(model: nn.Module, inputs: Union[PathLike, Sequence[PathLike]], *,
            class_names: Sequence[str], device, input_size: Union[int, Sequence[int]] = 512,
            keep_res: bool = False, threshold: float = 0.3, K: int = 100,
            out_dir: Optional[PathLike] = None, normalization: Normalization = COCO_BGR,
            pad: int = 31, flip_test: bool = False,
            amp_dtype: Optional[torch.dtype] = None) -> List[Dict]:
    """Detects objects in image files.

    Each image is read (RGB), put through the test transform (longer side resized to
    ``input_size``, or ``keep_res`` padding), run through ``model`` (already on ``device``;
    eval mode for the call, modes restored), decoded by the fused ``ctdet_decode``, and its
    boxes taken back to the image's pixels.

    Args:
        model: a CenterNet model with ``hm``/``wh`` (``reg`` optional) heads.
        inputs: an image file, a folder of images, or a list of either (see ``find_images``).
        class_names: one name per heatmap channel.
        device: where the model is.
        input_size, keep_res, pad, normalization: the test transform (``CtdetTransform``); use
            the ones the model was trained with.
        threshold: detections scoring below it are left out.
        K: peaks decoded per image (the most detections an image can have).
        out_dir: if given, receives one PNG per image with the boxes, class names and scores
            drawn (``<stem>.png``, made unique) and ``detections.json`` (the returned list).
        flip_test, amp_dtype: see ``detect``.
    Returns:
        One ``detection_record`` per image, in input order, each with ``"picture"`` (the PNG's
        name in ``out_dir``) when pictures are written.
    Raises:
        FileNotFoundError, DatasetError: a missing or unreadable input (before any image runs).
        ValueError: a model on another device, or one whose classes differ from class_names.
    """
    paths = find_images(inputs)
    device = check_model_device(model, device)
    net = unwrap_model(model)
    transform = CtdetTransform(input_size, keep_res=keep_res, pad=pad, normalization=normalization)
    no_boxes = torch.zeros(0, 4)
    taken = {os.path.realpath(p) for p in paths}  # never overwrite an input image
    if out_dir is not None:
        out_dir = os.fspath(out_dir)
        os.makedirs(out_dir, exist_ok=True)
    records = []
    with eval_mode(net):
        for path in paths:
            image = read_image(path)
            inp, _, _, warp = transform(image, no_boxes)
            rows = detect(net, inp[None].to(device), K=K, flip_test=flip_test,
                          amp_dtype=amp_dtype, threshold=threshold, num_classes=len(class_names))
            detections = to_image_detections(rows[0], warp, image.shape[:2])
            record = detection_record(path, image.shape[:2], detections, class_names)
            if out_dir is not None:
                record["picture"] = _picture_name(path, out_dir, taken)
                draw_detections(image, detections, class_names).save(
                    os.path.join(out_dir, record["picture"]))
            records.append(record)
    if out_dir is not None:
        write_json_atomic(os.path.join(out_dir, "detections.json"), records, indent=2)
    return records
