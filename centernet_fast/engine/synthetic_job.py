"""The main job: ``centernet-fast train`` without a dataset writes the built-in synthetic dataset,
trains a small model on it, evaluates it on the synthetic validation split and draws its
detections; ``run_training`` is also the path of a training run on a real dataset.

The preset is sized to finish in minutes on a 2-core CPU (and to use a GPU when there is one)
while reaching a COCO AP above 0.5 on the synthetic validation split.
"""

import logging
import os
from typing import Any, Dict, Optional

from centernet_fast.data import load_coco, write_synthetic_coco
from centernet_fast.engine.config import TrainConfig
from centernet_fast.engine.distributed import (choose_device, cleanup_distributed,
                                               on_main_process, setup_distributed)
from centernet_fast.engine.predict import predict
from centernet_fast.engine.train import TrainResult, check_run, train_checked

logger = logging.getLogger("centernet_fast.engine")

#: ``write_synthetic_coco`` arguments of the main job's dataset. 320 px images (resized to the
#: 256 px input) hold objects up to a third of 320 = 106 px, so that COCO's "large" range (area
#: above 96^2) has ground truth and all six figures (AP..APl) are defined; at 256 px APl is -1.
SYNTHETIC_DATA: Dict[str, Any] = {"num_train": 2000, "num_val": 200, "image_size": 320}

#: TrainConfig options of the main job (the others keep their defaults): the light model from
#: scratch at a high Adam lr with warm-up, 500 steps of 16 images. Every synthetic image is a new
#: random scene already, and the original random crop and colour jitter slow learning here
#: several-fold (measured: AP 0.03 after 200 steps with them, 0.51 after 300 without), so they
#: are off; flips stay.
SYNTHETIC_PRESET: Dict[str, Any] = {
    "arch": "lite", "input_size": (256, 256), "epochs": 4, "batch_size": 16, "lr": 2e-3,
    "lr_steps": (3,), "warmup_iters": 50, "crop": "none", "color": False, "channels_last": True,
    "log_every": 25, "eval_batch_size": 16,
}
#: Data workers of the main job on a GPU; on the CPU none: there the compute keeps every core
#: busy, and workers would only compete with it.
GPU_WORKERS = 4


def synthetic_preset(device: Optional[str]) -> Dict[str, Any]:
    """SYNTHETIC_PRESET with the data workers for ``device`` (None: the GPU if there is one)."""
    on_gpu = choose_device(device).type == "cuda"
    return dict(SYNTHETIC_PRESET, num_workers=GPU_WORKERS if on_gpu else 0)


#: Validation images drawn with their detections at the end of the main job.
PREDICT_COUNT = 8


def run_training(config: TrainConfig, out_dir: str, *, resume: Optional[str] = None,
                 synthetic_dir: Optional[str] = None,
                 synthetic_data: Optional[Dict[str, Any]] = None,
                 predict_count: Optional[int] = None) -> Optional[TrainResult]:
    """Trains as ``engine.train.train`` does, with two additions for the main job.

    Args:
        config, out_dir, resume: see ``train``.
        synthetic_dir, synthetic_data: when ``synthetic_data`` (``write_synthetic_coco``
            arguments) is given, the synthetic dataset is written to ``synthetic_dir`` (or
            reused there when it already holds the same one) by the main process, and its
            train and val splits replace the config's.
        predict_count: draw the detections of this many validation images into
            ``out_dir/predictions`` after training (``engine.predict.predict``); None: 8 for the
            synthetic job, 0 otherwise.
    Returns:
        The TrainResult on the main process, None on the others.
    """
    info = setup_distributed(config.device)
    try:
        # Everything that can be checked before minutes of writing data, once.
        check_run(config, out_dir, resume, info.world_size, with_data=synthetic_data is None)
        if synthetic_data is not None:
            def write_data():
                logger.info("writing the synthetic dataset to %s", synthetic_dir)
                write_synthetic_coco(synthetic_dir, **synthetic_data)

            on_main_process(info, write_data, f"writing the synthetic dataset to {synthetic_dir}")
            # Every process gets the split paths; the dataset on disk matches, nothing is redrawn.
            splits = write_synthetic_coco(synthetic_dir, **synthetic_data)
            config.train_images, config.train_ann = splits["train"]
            config.val_images, config.val_ann = splits["val"]
            config.validate_data()
        result = train_checked(config, out_dir, info, resume=resume)
        if predict_count is None:
            predict_count = PREDICT_COUNT if synthetic_data is not None else 0
        if info.is_main and predict_count and config.val_images is not None:
            _draw_predictions(result, config, predict_count, os.path.join(out_dir, "predictions"))
        return result if info.is_main else None
    finally:
        cleanup_distributed(info)


def _draw_predictions(result: TrainResult, config: TrainConfig, count: int, out_dir: str) -> None:
    coco, _ = load_coco(config.val_ann, config.val_images)
    images = [os.path.join(config.val_images, img["file_name"])
              for img in coco.dataset["images"][:count]]
    predict(result.model, images, class_names=result.model_config["class_names"],
            device=result.device, input_size=config.input_size,
            normalization=config.norm(), out_dir=out_dir)
    logger.info("detections of %d validation images drawn in %s", len(images), out_dir)
