"""COCO evaluation of a CenterNet model on a test-mode COCO-format dataset."""

import logging
import os
import time
from typing import Dict, Optional, Union

import torch
from torch import nn
from torch.utils.data import DataLoader

from centernet_fast.data import CocoDetection, collate_detections
from centernet_fast.engine.coco_eval import coco_metrics, coco_results
from centernet_fast.engine.detect import (batch_image_detections, check_model_device, detect,
                                          eval_mode)
from centernet_fast.atomic_files import write_json_atomic
from centernet_fast.models.checkpoint import unwrap_model

logger = logging.getLogger("centernet_fast.engine")


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, CocoDetection):
        raise TypeError(f"evaluate needs a CocoDetection (its pycocotools ground truth and "
                        f"image warps); got {type(dataset).__name__}")
    if dataset.train:
        raise ValueError("evaluate needs a test-mode dataset: CocoDetection(..., train=False). "
                         "Training samples are randomly cropped, flipped and colour-jittered, "
                         "which is not what the ground truth is scored on")
    if len(dataset) == 0:
        raise ValueError(f"the dataset {dataset.ann_file} has no images to evaluate")


def evaluate(model: nn.Module, dataset: CocoDetection, *, device, batch_size: int = 8,
             num_workers: int = 0, flip_test: bool = False, K: int = 100,
             amp_dtype: Optional[torch.dtype] = None,
             out_dir: Optional[Union[str, os.PathLike]] = None,
             progress: bool = False) -> Dict[str, float]:
    """COCO bbox metrics of ``model`` on ``dataset``.

    Every image goes through the model once (twice with ``flip_test``); the last stack's maps are
    decoded by the fused ``ctdet_decode``, the K best peaks of each image taken back to its
    original pixels by ``meta.warp.output_to_image`` and clipped to it, and the whole set scored
    by pycocotools against ``dataset.coco``.

    Args:
        model: a CenterNet model already on ``device`` (DataParallel/DDP/compile wrappers are
            looked through: evaluation runs on one process). It runs in eval mode under
            ``torch.no_grad``; every submodule's mode is restored afterwards.
        dataset: a test-mode ``CocoDetection`` (``train=False``); resize or ``keep_res``.
        device: where the batches go.
        batch_size, num_workers: of the DataLoader (images in dataset order).
        flip_test: the original's flip test (see ``detect``).
        K: detections per image (COCO scores at most 100).
        amp_dtype: run the forward under autocast in this dtype (None: float32).
        out_dir: if given, created if needed and receives ``detections.json`` (COCO results:
            ``image_id``, ``category_id`` from ``dataset.cat_ids``, ``bbox`` [x, y, w, h] in
            original-image pixels, ``score``) and then ``metrics.json`` (the returned dict), each
            written atomically.
        progress: show a progress bar (tqdm, if installed).
    Returns:
        ``{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm",
        "ARl": float}``: COCOeval stats 0..11, fractions in [0, 1]; -1.0 where undefined (no
        ground truth in that size range). No detections at all give 0, not an error.
    Raises:
        TypeError: ``dataset`` is not a CocoDetection.
        ValueError: a training-mode or empty dataset, a model on another device, or a model whose
            heatmap has another number of classes than the dataset.
    """
    _check_dataset(dataset)
    device = check_model_device(model, device)
    net = unwrap_model(model)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        collate_fn=collate_detections, pin_memory=device.type == "cuda")
    if progress:
        try:
            from tqdm import tqdm
            loader = tqdm(loader, desc="eval", unit="batch")
        except ImportError:
            pass
    results = []
    start = time.perf_counter()
    with eval_mode(net):
        for batch in loader:
            images = batch.images.to(device, non_blocking=True)
            rows = detect(net, images, K=K, flip_test=flip_test, amp_dtype=amp_dtype,
                          num_classes=dataset.num_classes)
            sizes = [m.image_size for m in batch.metas]
            for meta, dets in zip(batch.metas,
                                  batch_image_detections(rows, [m.warp for m in batch.metas],
                                                         sizes)):
                results += coco_results(meta.image_id, dets, dataset.cat_ids)
    seconds = time.perf_counter() - start
    logger.info("evaluated %d images in %.1f s (%.1f images/s), %d detections", len(dataset),
                seconds, len(dataset) / max(seconds, 1e-9), len(results))
    metrics = coco_metrics(dataset.coco, results)
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        write_json_atomic(os.path.join(out_dir, "detections.json"), results)
        # Last: its presence says the evaluation finished.
        write_json_atomic(os.path.join(out_dir, "metrics.json"), metrics, indent=2)
    return metrics
