"""Evaluation and inference: COCO mAP of a model on a dataset, detection on image files, and
loading checkpoints as detectors.

    model, config = load_model_for_inference("run/model_last.pth", "cuda")
    val = CocoDetection(images_dir, ann_file, train=False, input_size=config.input_size,
                        normalization=config.normalization)
    metrics = evaluate(model, val, device="cuda", out_dir="run/eval")    # metrics["AP"], ...
    records = predict(model, "photos/", class_names=config.class_names, device="cuda",
                      input_size=config.input_size, normalization=config.normalization,
                      out_dir="run/predictions")
"""

from centernet_fast.engine.coco_eval import METRIC_NAMES, coco_metrics, coco_results
from centernet_fast.engine.detect import ImageDetections, detect, eval_mode, to_image_detections
from centernet_fast.engine.draw import draw_detections
from centernet_fast.engine.evaluate import evaluate
from centernet_fast.engine.loading import InferenceConfig, load_model_for_inference
from centernet_fast.engine.predict import find_images, predict

__all__ = ["ImageDetections", "InferenceConfig", "METRIC_NAMES", "coco_metrics", "coco_results",
           "detect", "draw_detections", "eval_mode", "evaluate", "find_images",
           "load_model_for_inference", "predict", "to_image_detections"]
