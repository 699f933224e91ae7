"""Evaluation and inference: COCO mAP of a model on a dataset, detection on image files, and
loading checkpoints as detectors."""

from centernet_fast.engine.coco_eval import METRIC_NAMES, coco_metrics, coco_results
from centernet_fast.engine.detect import ImageDetections, detect, eval_mode, to_image_detections
from centernet_fast.engine.draw import draw_detections
from centernet_fast.engine.evaluate import evaluate
from centernet_fast.engine.loading import InferenceConfig, load_model_for_inference
from centernet_fast.engine.predict import find_images, predict

__all__ = ["ImageDetections", "InferenceConfig", "METRIC_NAMES", "coco_metrics", "coco_results",
           "detect", "draw_detections", "eval_mode", "evaluate", "find_images",
           "load_model_for_inference", "predict", "to_image_detections"]
