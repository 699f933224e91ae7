"""COCO results and metrics: detections in the COCO results format, scored by pycocotools."""

import contextlib
import copy
import io
import logging
from typing import Dict, List, Sequence

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from centernet_fast.engine.detect import ImageDetections

logger = logging.getLogger("centernet_fast.engine")

# The order of COCOeval.stats for bbox evaluation.
METRIC_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl",
                "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

# Decimals kept in the results file: a hundredth of a pixel, and scores fine enough that
# rounding does not reorder detections in practice. Metrics are computed on the rounded values,
# so the written file reproduces them.
BOX_DECIMALS = 2
SCORE_DECIMALS = 5


def coco_results(image_id: int, detections: ImageDetections, cat_ids: Sequence[int]
                 ) -> List[dict]:
    """One image's detections as COCO results entries.

    Args:
        image_id: the COCO image id (``meta.image_id``).
        detections: boxes in original-image pixels (``to_image_detections``).
        cat_ids: COCO category id of each contiguous label (``dataset.cat_ids``).
    Returns:
        ``[{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]`` in the order given.
    """
    entries = []
    for (x1, y1, x2, y2), score, label in zip(detections.boxes.tolist(),
                                              detections.scores.tolist(),
                                              detections.labels.tolist()):
        bbox = [round(v, BOX_DECIMALS) for v in (x1, y1, x2 - x1, y2 - y1)]
        entries.append({"image_id": int(image_id), "category_id": int(cat_ids[label]),
                        "bbox": bbox, "score": round(score, SCORE_DECIMALS)})
    return entries


def _results_coco(ground_truth: COCO, results: List[dict]) -> COCO:
    """The results as a COCO object; ``loadRes`` fails on an empty list, so that case is built
    directly (same images and categories, no annotations)."""
    if results:
        return ground_truth.loadRes(copy.deepcopy(results))
    empty = COCO()
    empty.dataset = {"images": list(ground_truth.dataset["images"]),
                     "categories": copy.deepcopy(ground_truth.dataset["categories"]),
                     "annotations": []}
    empty.createIndex()
    return empty


def coco_metrics(ground_truth: COCO, results: List[dict]) -> Dict[str, float]:
    """COCO bbox metrics of ``results`` against ``ground_truth`` with pycocotools.

    Args:
        ground_truth: the dataset's pycocotools COCO (``dataset.coco``).
        results: COCO results entries (``coco_results``) for images of ``ground_truth``;
            may be empty.
    Returns:
        ``{name: float}`` for ``METRIC_NAMES`` (COCOeval stats 0..11): fractions in [0, 1], or
        -1.0 where pycocotools leaves a metric undefined (no ground truth objects, or none in
        that size range). No detections score 0 wherever ground truth exists.
    """
    if not ground_truth.getAnnIds():
        logger.warning("the ground truth has no annotations: COCO metrics are undefined (-1)")
    with contextlib.redirect_stdout(io.StringIO()) as printed:  # pycocotools prints progress
        evaluation = COCOeval(ground_truth, _results_coco(ground_truth, results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    summary = printed.getvalue()
    logger.info("COCO bbox evaluation:\n%s", summary[summary.find(" Average Precision"):])
    return {name: float(value) for name, value in zip(METRIC_NAMES, evaluation.stats)}
