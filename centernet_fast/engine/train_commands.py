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
import dataclasses
import json
import logging
import os
import sys
import typing
from typing import Any, Dict, Optional, Tuple

from centernet_fast.data import DatasetError
from centernet_fast.engine.checkpointing import last_checkpoint_path
from centernet_fast.engine.config import (TrainConfig, TrainConfigError, option_types,
                                          parse_option, scalar_type)
from centernet_fast.engine.synthetic_job import (SYNTHETIC_DATA, SYNTHETIC_PRESET, run_training,
                                                 synthetic_preset)
from centernet_fast.models import CheckpointError

#: Errors that mean bad input rather than a bug: reported in one line, exit status 2.
USER_ERRORS = (TrainConfigError, DatasetError, CheckpointError, FileNotFoundError,
               FileExistsError)


def _option_parser(name: str):
    """The argparse type of option ``name``: ``parse_option``, the parser of --set too (e.g.
    ``"90,120"`` -> (90, 120), the original ``--lr_step`` format; ``""`` -> ())."""
    def parse(text: str):
        try:
            return parse_option(name, text)
        except TrainConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from e
    return parse


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


#: The options that _dataset_paths resolves (from DATASET and the split names, or the flags).
DATA_OPTIONS = ("train_images", "train_ann", "val_images", "val_ann")


def config_from_args(args) -> Tuple[TrainConfig, bool]:
    """The TrainConfig of the parsed arguments, and whether it is the synthetic main job. Later
    sources win: the defaults, the synthetic preset (without a dataset), --config FILE, the
    option flags, --set KEY=VALUE."""
    paths = _dataset_paths(args)
    synthetic = paths is None
    values = synthetic_preset(args.device) if synthetic else {}
    if args.config is not None:
        values.update(read_config_file(args.config))
    for f in dataclasses.fields(TrainConfig):
        if f.name not in DATA_OPTIONS and getattr(args, f.name) is not None:
            values[f.name] = getattr(args, f.name)
    if isinstance(values.get("input_size"), list):
        size = values["input_size"]  # SIDE or HEIGHT WIDTH; more is left for the check to name
        values["input_size"] = size[0] if len(size) == 1 else tuple(size)
    for item in args.set or ():
        name, sep, text = item.partition("=")
        if not sep:
            raise TrainConfigError(f"--set: expected KEY=VALUE, got {item!r}")
        values[name.strip()] = parse_option(name.strip(), text.strip())
    if args.predict is not None and args.predict < 0:
        raise TrainConfigError(f"--predict: expected a number of images >= 0, got {args.predict}")
    if not synthetic:
        values.update(zip(DATA_OPTIONS, paths))
    return TrainConfig.from_dict(values), synthetic


def read_config_file(path: str) -> Dict[str, Any]:
    """The options of a JSON file: a mapping of TrainConfig options, or a run's config.json
    (its ``model.train`` entry, the options the run started from). Unknown options raise
    ``TrainConfigError`` later, naming them."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--config: {path} does not exist")
    try:
        with open(path, encoding="utf-8") as f:
            values = json.load(f)
    except json.JSONDecodeError as e:
        raise TrainConfigError(f"--config: {path} is not valid JSON: {e}") from e
    if isinstance(values, dict) and isinstance(values.get("model"), dict) \
            and "train" in values["model"]:
        values = values["model"]["train"]
    if not isinstance(values, dict):
        raise TrainConfigError(f"--config: {path} must hold a JSON object of training options")
    return values


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
    """Adds ``train`` to an argparse subparsers object: the flags of the run (dataset, synthetic
    data, output), then one flag per TrainConfig option, generated from its field."""
    p = subparsers.add_parser(
        "train", help="train a CenterNet detector (no dataset: the synthetic main job)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    groups = {name: p.add_argument_group(name) for name in OPTION_GROUPS}
    data = groups["data"]
    data.add_argument("dataset", nargs="?", default=None,
                      help="COCO-format dataset folder; none: the built-in synthetic dataset")
    data.add_argument("--train-split", default="train", help="training split name (train)")
    data.add_argument("--val-split", default="val",
                      help="validation split name (val); '' for no evaluation")
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
    run = groups["runtime"]
    run.add_argument("--out", default="runs/train", help="run directory (default: runs/train)")
    run.add_argument("--resume", nargs="?", const="last", default=None, metavar="CKPT",
                     help="continue a killed run (default CKPT: OUT/checkpoints/last.pth)")
    run.add_argument("--config", metavar="FILE", help="a JSON object of training options (or a "
                     "run's config.json); the option flags and --set override it")
    run.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE",
                     help="options by their config names, after every other source, e.g. "
                     "--set lr=1e-3 lr_steps=3,4 color=false grad_clip=none")
    for f in dataclasses.fields(TrainConfig):
        flag, kwargs = _option_flag(f)
        groups[f.metadata["group"]].add_argument(flag, **kwargs)
    p.set_defaults(func=_train)


#: The help's sections, in order; every TrainConfig option names one.
OPTION_GROUPS = ("data", "model", "optimisation", "augmentation", "runtime")


def _option_flag(f: dataclasses.Field):
    """(flag name, argparse keyword arguments) of the TrainConfig option ``f``: the value's
    parser from the field's type, the help from its metadata with the default and the
    synthetic preset's value. Every flag defaults to None, meaning "not given"."""
    meta, annotation = f.metadata, option_types()[f.name]
    kind = scalar_type(annotation)
    kwargs: Dict[str, Any] = {"dest": f.name, "default": None}
    if kind is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif f.name == "input_size":
        kwargs.update(type=int, nargs="+")
    elif typing.get_origin(kind) is tuple:
        kwargs["type"] = _option_parser(f.name)
    else:
        kwargs["type"] = kind
    for key in ("metavar", "choices"):
        if key in meta:
            kwargs[key] = meta[key]
    shown = meta.get("default_help", _show(f.default))
    help_text = meta["help"]
    if "metavar" in meta and "choices" in meta:
        help_text += f": one of {', '.join(meta['choices'])}"
    if shown:
        synthetic = (f"; synthetic: {_show(SYNTHETIC_PRESET[f.name])}"
                     if f.name in SYNTHETIC_PRESET else "")
        help_text += f" (default: {shown}{synthetic})"
    kwargs["help"] = help_text.replace("%", "%%")
    return meta.get("name", "--" + f.name.replace("_", "-")), kwargs


def _show(value) -> str:
    """An option's value as the help writes it."""
    if isinstance(value, tuple):
        return ",".join(map(str, value)) if value else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)
