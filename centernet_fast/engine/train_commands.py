"""``centernet-fast train``: the command line of the training loop.

    centernet-fast train                          the main job: synthetic data, a small model,
                                                  evaluation and pictures of its detections
    centernet-fast train DATASET [--train-split train2017 --val-split val2017]
    centernet-fast train --train-images DIR --train-ann JSON [--val-images DIR --val-ann JSON]
    centernet-fast train ... --out DIR --resume   continue a killed run from DIR/checkpoints/last.pth

A DATASET folder holds ``annotations/instances_<split>.json`` and the images of each split in
``<split>/`` (COCO's and the synthetic dataset's layout). Options left out take the original
CenterNet defaults with a dataset, and the synthetic preset (``engine.synthetic_job``) without.
Under ``torchrun --nproc_per_node N`` the same command trains on N processes.
"""

import argparse
import json
import logging
import os
import sys
from typing import Optional, Tuple

from centernet_fast.data import DatasetError
from centernet_fast.engine.checkpointing import last_checkpoint_path
from centernet_fast.engine.config import (AMP_MODES, NORMALIZATIONS, TrainConfig,
                                          TrainConfigError)
from centernet_fast.engine.synthetic_job import (SYNTHETIC_DATA, SYNTHETIC_PRESET, run_training,
                                                 synthetic_preset)
from centernet_fast.models import ARCHITECTURES, CheckpointError
from centernet_fast.data.transforms import CROP_MODES

#: Errors that mean bad input rather than a bug: reported in one line, exit status 2.
USER_ERRORS = (TrainConfigError, DatasetError, CheckpointError, FileNotFoundError,
               FileExistsError)


def _strides() -> str:
    """The architectures' input multiples for the help, e.g. ``"32; hourglass: 128"`` (the most
    common one alone, the others by name)."""
    by_stride = {}
    for name, spec in sorted(ARCHITECTURES.items()):
        by_stride.setdefault(spec.size_divisibility, []).append(name)
    common = max(by_stride, key=lambda s: len(by_stride[s]))
    return "; ".join([str(common)] + [f"{', '.join(names)}: {s}"
                                      for s, names in sorted(by_stride.items()) if s != common])


def _int_list(text: str) -> Tuple[int, ...]:
    """``"90,120"`` -> (90, 120), the original ``--lr_step`` format; ``""`` -> ()."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def _dataset_paths(args) -> Optional[Tuple[str, str, Optional[str], Optional[str]]]:
    """(train_images, train_ann, val_images, val_ann) from DATASET and the explicit flags;
    None when no dataset is given (the synthetic main job)."""
    if args.dataset is None and args.train_ann is None:
        if args.train_images or args.val_images or args.val_ann:
            raise TrainConfigError("--train-ann: required with --train-images/--val-images/"
                                   "--val-ann when no DATASET folder is given")
        return None
    if args.dataset is not None and not os.path.isdir(args.dataset):
        raise FileNotFoundError(f"dataset folder {args.dataset} does not exist")

    def split(name, images, ann):
        if args.dataset is not None and name:
            images = images or os.path.join(args.dataset, name)
            ann = ann or os.path.join(args.dataset, "annotations", f"instances_{name}.json")
        return images, ann

    train_images, train_ann = split(args.train_split, args.train_images, args.train_ann)
    if train_images is None:
        raise TrainConfigError("--train-images: required with --train-ann when no DATASET "
                               "folder is given")
    val_images, val_ann = split(args.val_split, args.val_images, args.val_ann)
    if (val_images is None) != (val_ann is None):
        raise TrainConfigError("--val-images/--val-ann: give both or neither")
    return train_images, train_ann, val_images, val_ann


def config_from_args(args) -> Tuple[TrainConfig, bool]:
    """The TrainConfig of the parsed arguments, and whether it is the synthetic main job."""
    paths = _dataset_paths(args)
    synthetic = paths is None
    values = synthetic_preset(args.device) if synthetic else {}
    for name in ("arch", "head_conv", "pretrained_backbone", "input_size", "normalization",
                 "epochs", "batch_size", "lr", "lr_steps", "lr_factor", "warmup_iters",
                 "grad_clip", "crop", "flip", "device", "amp", "num_workers", "seed",
                 "eval_every", "checkpoint_every", "log_every", "eval_batch_size"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if isinstance(values.get("input_size"), list):
        size = values["input_size"]  # SIDE or HEIGHT WIDTH; more is left for the check to name
        values["input_size"] = size[0] if len(size) == 1 else tuple(size)
    for flag in ("compile", "sync_bn"):
        values[flag] = getattr(args, flag) or values.get(flag, False)
    for flag in ("channels_last", "color"):  # --flag / --no-flag; None: the default or preset
        if getattr(args, flag) is not None:
            values[flag] = getattr(args, flag)
    if args.predict is not None and args.predict < 0:
        raise TrainConfigError(f"--predict: expected a number of images >= 0, got {args.predict}")
    if not synthetic:
        values.update(zip(("train_images", "train_ann", "val_images", "val_ann"), paths))
    return TrainConfig(**values), synthetic


def _train(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        config, synthetic = config_from_args(args)
        resume = (last_checkpoint_path(args.out) if args.resume == "last" else args.resume)
        synthetic_dir = args.synthetic_dir or os.path.join(args.out, "synthetic")
        data = (dict(SYNTHETIC_DATA, **{k: v for k, v in (
            ("num_train", args.synthetic_train), ("num_val", args.synthetic_val),
            ("image_size", args.synthetic_size)) if v is not None}) if synthetic else None)
        result = run_training(config, args.out, resume=resume, synthetic_dir=synthetic_dir,
                              synthetic_data=data, predict_count=args.predict)
    except USER_ERRORS as e:
        print(f"centernet-fast train: error: {e}", file=sys.stderr)
        return 2
    if result is not None:  # the main process
        print(json.dumps({"run_dir": result.run_dir, "checkpoint": result.checkpoint,
                          "metrics": result.metrics}, indent=2))
    return 0


def add_train_commands(subparsers) -> None:
    """Adds ``train`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "train", help="train a CenterNet detector (no dataset: the synthetic main job)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig()
    s = SYNTHETIC_PRESET

    def show(value):
        if isinstance(value, tuple):
            return ",".join(map(str, value)) if value else "none"
        return value

    def default(name):
        synthetic = f"; synthetic: {show(s[name])}" if name in s else ""
        return f"(default: {show(getattr(d, name))}{synthetic})"

    data = p.add_argument_group("data")
    data.add_argument("dataset", nargs="?", default=None,
                      help="COCO-format dataset folder; none: the built-in synthetic dataset")
    data.add_argument("--train-split", default="train", help="training split name (train)")
    data.add_argument("--val-split", default="val",
                      help="validation split name (val); '' for no evaluation")
    data.add_argument("--train-images", help="training images folder (overrides the split)")
    data.add_argument("--train-ann", help="training instances JSON (overrides the split)")
    data.add_argument("--val-images", help="validation images folder")
    data.add_argument("--val-ann", help="validation instances JSON")
    data.add_argument("--synthetic-dir", help="where the synthetic dataset is written or "
                      "reused (default: OUT/synthetic)")
    data.add_argument("--synthetic-train", type=int, help=f"synthetic training images "
                      f"({SYNTHETIC_DATA['num_train']})")
    data.add_argument("--synthetic-val", type=int, help=f"synthetic validation images "
                      f"({SYNTHETIC_DATA['num_val']})")
    data.add_argument("--synthetic-size", type=int, help=f"synthetic image side "
                      f"({SYNTHETIC_DATA['image_size']})")
    data.add_argument("--predict", type=int, default=None, help="draw the detections of this "
                      "many validation images into OUT/predictions (default: 8 for the "
                      "synthetic job, 0 with a dataset)")

    model = p.add_argument_group("model")
    model.add_argument("--arch", choices=sorted(ARCHITECTURES), metavar="ARCH",
                       help=f"one of {', '.join(sorted(ARCHITECTURES))} {default('arch')}")
    model.add_argument("--head-conv", type=int, help="head hidden channels (default: the "
                       "architecture's)")
    model.add_argument("--pretrained-backbone", help="local ImageNet state_dict of the backbone")
    model.add_argument("--input-size", type=int, nargs="+", metavar="PX",
                       help=f"SIDE or HEIGHT WIDTH, multiples of the architecture's stride "
                       f"({_strides()}) {default('input_size')}")
    model.add_argument("--normalization", choices=sorted(NORMALIZATIONS),
                       help=default("normalization"))

    optim = p.add_argument_group("optimisation")
    optim.add_argument("--epochs", type=int, help=default("epochs"))
    optim.add_argument("--batch-size", type=int, help=f"global batch {default('batch_size')}")
    optim.add_argument("--lr", type=float, help="Adam learning rate (default: 1.25e-4 per 32 "
                       f"images of the batch{'; synthetic: ' + str(s['lr']) if 'lr' in s else ''})")
    optim.add_argument("--lr-steps", type=_int_list, help="epochs at which the lr drops, comma-"
                       f"separated {default('lr_steps')}")
    optim.add_argument("--lr-factor", type=float, help=default("lr_factor"))
    optim.add_argument("--warmup-iters", type=int, help=default("warmup_iters"))
    optim.add_argument("--grad-clip", type=float, help="max gradient norm (default: none)")
    optim.add_argument("--crop", choices=CROP_MODES, help=default("crop"))
    optim.add_argument("--flip", type=float, help=default("flip"))
    optim.add_argument("--color", action=argparse.BooleanOptionalAction, default=None,
                       help="colour jitter and PCA lighting (default: on; synthetic: off)")
    optim.add_argument("--seed", type=int, help=default("seed"))

    run = p.add_argument_group("runtime")
    run.add_argument("--out", default="runs/train", help="run directory (default: runs/train)")
    run.add_argument("--resume", nargs="?", const="last", default=None, metavar="CKPT",
                     help="continue a killed run (default CKPT: OUT/checkpoints/last.pth)")
    run.add_argument("--device", help="cuda, cpu, ... (default: the GPU if there is one)")
    run.add_argument("--amp", choices=AMP_MODES, help="mixed precision (default: auto = "
                     "bfloat16 on a GPU that supports it, off elsewhere)")
    run.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                     help=f"channels-last memory format {default('channels_last')}")
    run.add_argument("--compile", action="store_true", help="torch.compile the model")
    run.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm under DDP (CUDA)")
    run.add_argument("--workers", dest="num_workers", type=int, help="data worker processes per "
                     "training process (default: 4; synthetic: 0 on the CPU, 4 on a GPU)")
    run.add_argument("--eval-every", type=int, help="also evaluate every N epochs (default: 0, "
                     "only at the end)")
    run.add_argument("--checkpoint-every", type=int, help="also checkpoint every N iterations "
                     "(default: 0, every epoch)")
    run.add_argument("--log-every", type=int, help=default("log_every"))
    run.add_argument("--eval-batch-size", type=int, help=default("eval_batch_size"))
    p.set_defaults(func=_train)

