"""Detection data for CenterNet: COCO-format datasets with the original augmentation, padded
batches whose targets ``centernet_fast.ops.ctdet_targets`` draws on the training device, the
built-in synthetic dataset, and a Pascal-VOC converter.

Typical use::

    splits = write_synthetic_coco("data/synthetic")
    train = CocoDetection(*splits["train"], train=True, input_size=256)
    loader = DataLoader(train, batch_size=16, shuffle=True, collate_fn=collate_detections)
    for batch in loader:
        batch = batch.to(device)
        targets = batch_targets(batch, train.num_classes)
"""

from centernet_fast.data.affine import (clip_boxes, compose, get_affine_transform,
                                        hflip_transform, invert, transform_boxes, warp_image)
from centernet_fast.data.coco import CocoDetection, CocoSplit, load_coco
from centernet_fast.data.collate import Batch, batch_targets, collate_detections
from centernet_fast.data.color import (COCO_BGR, IMAGENET_RGB, NORMALIZATIONS, Normalization,
                                       normalize)
from centernet_fast.data.errors import DatasetError
from centernet_fast.data.images import read_image
from centernet_fast.data.sample import ImageMeta, Sample
from centernet_fast.data.synthetic import CLASS_NAMES as SYNTHETIC_CLASSES
from centernet_fast.data.synthetic import draw_synthetic_image, write_synthetic_coco
from centernet_fast.data.transforms import AugmentConfig, CtdetTransform, Warp
from centernet_fast.data.voc import read_voc_xml, voc_to_coco

__all__ = ["AugmentConfig", "Batch", "COCO_BGR", "CocoDetection", "CocoSplit", "CtdetTransform",
           "DatasetError", "IMAGENET_RGB", "ImageMeta", "NORMALIZATIONS", "Normalization",
           "SYNTHETIC_CLASSES", "Sample", "Warp", "batch_targets", "clip_boxes",
           "collate_detections", "compose", "draw_synthetic_image", "get_affine_transform",
           "hflip_transform", "invert", "load_coco", "normalize", "read_image", "read_voc_xml",
           "transform_boxes", "voc_to_coco", "warp_image", "write_synthetic_coco"]
