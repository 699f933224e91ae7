"""``centernet-fast eval`` and ``centernet-fast predict``: the evaluation and inference commands.

    eval --checkpoint CKPT --data IMAGES_DIR ANN_JSON [--flip-test] [--keep-res] [--out DIR]
    predict IMAGE_OR_FOLDER... --checkpoint CKPT [--out DIR] [--threshold T]

Checkpoints of ``centernet-fast train`` carry their architecture, classes and input settings;
an original model-zoo ``.pth`` needs ``--arch`` (its heads are read off the weights).
"""

import argparse
import json
import logging
import os
import sys

import torch

from centernet_fast.data import CocoDetection, DatasetError
from centernet_fast.engine.evaluate import evaluate
from centernet_fast.engine.loading import load_model_for_inference
from centernet_fast.engine.predict import predict
from centernet_fast.models import ARCHITECTURES, CheckpointError

AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# What a user gets wrong (paths, files, options); reported in one line instead of a traceback.
USER_ERRORS = (FileNotFoundError, DatasetError, CheckpointError, ValueError)

logger = logging.getLogger("centernet_fast.engine")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True,
                        help="a centernet-fast training checkpoint or a model-zoo .pth")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default=None, metavar="ARCH",
                        help="architecture of a checkpoint without config (a model-zoo .pth): "
                        + ", ".join(sorted(ARCHITECTURES)))
    parser.add_argument("--num-classes", type=int, default=None,
                        help="check the checkpoint's number of classes")
    parser.add_argument("--head-conv", type=int, default=None,
                        help="head width of a model-zoo .pth (default: the arch's)")
    parser.add_argument("--input-size", type=int, default=None,
                        help="square input side (default: the checkpoint's, else 512)")
    parser.add_argument("--keep-res", action="store_true",
                        help="keep each image's resolution (padded to the stride) instead")
    parser.add_argument("--flip-test", action="store_true",
                        help="average with the horizontally flipped image, as the original")
    parser.add_argument("--K", type=int, default=100, help="peaks decoded per image (100)")
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--amp", choices=sorted(AMP_DTYPES), default="off",
                        help="autocast dtype of the forward pass (off: float32)")


def _load(args, class_names=None):
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, config = load_model_for_inference(
        args.checkpoint, device, arch=args.arch, num_classes=args.num_classes,
        head_conv=args.head_conv, class_names=class_names, input_size=args.input_size)
    return model, config, device


def _run(command, args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return command(args)
    except USER_ERRORS as exc:
        print(f"centernet-fast {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _eval(args) -> int:
    image_dir, ann_file = args.data
    model, config, device = _load(args)
    dataset = CocoDetection(image_dir, ann_file, train=False, input_size=config.input_size,
                            keep_res=args.keep_res, pad=config.pad,
                            normalization=config.normalization)
    if dataset.num_classes != config.num_classes:
        raise ValueError(f"{args.checkpoint} predicts {config.num_classes} classes but "
                         f"{ann_file} has {dataset.num_classes} categories")
    generated = config.class_names == tuple(f"class_{i}" for i in range(config.num_classes))
    if tuple(dataset.class_names) != config.class_names and not generated:
        logger.warning("class names differ: checkpoint %s, dataset %s (matched by order)",
                       list(config.class_names), dataset.class_names)
    metrics = evaluate(model, dataset, device=device, batch_size=args.batch_size,
                       num_workers=args.workers, flip_test=args.flip_test, K=args.K,
                       amp_dtype=AMP_DTYPES[args.amp], out_dir=args.out,
                       progress=sys.stderr.isatty())
    print(json.dumps(metrics, indent=2))
    print(f"wrote {os.path.join(args.out, 'detections.json')} and "
          f"{os.path.join(args.out, 'metrics.json')}", file=sys.stderr)
    return 0


def _predict(args) -> int:
    model, config, device = _load(args, class_names=args.class_names)
    records = predict(model, args.inputs, class_names=config.class_names, device=device,
                      input_size=config.input_size, keep_res=args.keep_res,
                      threshold=args.threshold, K=args.K, out_dir=args.out,
                      normalization=config.normalization, pad=config.pad,
                      flip_test=args.flip_test, amp_dtype=AMP_DTYPES[args.amp])
    for record in records:
        print(f"{record['file_name']}: {len(record['detections'])} detections -> "
              f"{os.path.join(args.out, record['picture'])}")
    print(f"wrote {os.path.join(args.out, 'detections.json')}", file=sys.stderr)
    return 0


def add_eval_commands(subparsers) -> None:
    """Adds the ``eval`` and ``predict`` commands to an argparse subparsers object."""
    ev = subparsers.add_parser("eval",
                               help="COCO bbox mAP of a checkpoint on a COCO-format dataset")
    ev.add_argument("--data", nargs=2, required=True, metavar=("IMAGES_DIR", "ANN_JSON"),
                    help="the images folder and the instances JSON")
    _add_model_arguments(ev)
    ev.add_argument("--out", default="eval",
                    help="folder for detections.json and metrics.json (./eval)")
    ev.add_argument("--batch-size", type=int, default=8, help="images per forward pass (8)")
    ev.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (2)")
    ev.set_defaults(func=lambda args: _run(_eval, args))

    pr = subparsers.add_parser("predict",
                               help="detect objects in images; JSON plus pictures")
    pr.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER",
                    help="image files or folders of images")
    _add_model_arguments(pr)
    pr.add_argument("--class-names", nargs="+", default=None,
                    help="names of the classes (default: the checkpoint's; COCO for 80)")
    pr.add_argument("--threshold", type=float, default=0.3, help="lowest score kept (0.3)")
    pr.add_argument("--out", default="predictions",
                    help="folder for the pictures and detections.json (./predictions)")
    pr.set_defaults(func=lambda args: _run(_predict, args))
