"""The options of a training run (``TrainConfig``), their checks, and the derived values (learning
rate, mixed-precision dtype, model heads) every part of the training loop reads the same way."""

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

import torch

from centernet_fast.data import NORMALIZATIONS, AugmentConfig, Normalization
from centernet_fast.data.transforms import CROP_MODES
from centernet_fast.models import ARCHITECTURES

#: The original CenterNet learning rate: Adam at 1.25e-4 for a batch of 32 images, scaled
#: linearly with the (global) batch size.
BASE_LR = 1.25e-4
BASE_BATCH = 32
AMP_MODES = ("auto", "bf16", "fp16", "off")
DOWN_RATIO = 4


class TrainConfigError(ValueError):
    """A training option that cannot be used; the message names the option."""


def _strides() -> str:
    """The architectures' input multiples, e.g. ``"32; hourglass: 128"`` (the most common one
    alone, the others by name)."""
    by_stride: Dict[int, list] = {}
    for name, spec in sorted(ARCHITECTURES.items()):
        by_stride.setdefault(spec.size_divisibility, []).append(name)
    common = max(by_stride, key=lambda s: len(by_stride[s]))
    return "; ".join([str(common)] + [f"{', '.join(names)}: {s}"
                                      for s, names in sorted(by_stride.items()) if s != common])


def option(default: Any, group: str, help: str, **flag: Any) -> Any:
    """A TrainConfig field with its documentation: ``group`` and ``help`` become the
    ``centernet-fast train`` flag's (``train_commands``), ``flag`` the argparse extras
    (``name``: another flag name, ``metavar``, ``choices``, ``default_help``: the default as
    the help states it)."""
    return field(default=default, metadata={"group": group, "help": help, **flag})


@dataclass
class TrainConfig:
    """Everything a training run depends on; the defaults are the original CenterNet's ctdet
    options (``opts.py``) where it has one. Each field's ``help`` (its ``option`` metadata) is its
    documentation, shown by ``centernet-fast train --help``, which derives every option's flag
    from its field."""

    # Data (COCO format: an images folder and an instances JSON per split).
    train_images: str = option("", "data", "training images folder (default: DATASET/TRAIN_SPLIT)",
                               default_help="")
    train_ann: str = option("", "data", "training instances JSON (default: DATASET/annotations/"
                            "instances_TRAIN_SPLIT.json)", default_help="")
    val_images: Optional[str] = option(None, "data", "validation images folder, evaluated at the "
                                       "end and every eval_every epochs", default_help="")
    val_ann: Optional[str] = option(None, "data", "validation instances JSON", default_help="")
    # Model.
    arch: str = option("dla_34", "model", "a models.ARCHITECTURES name; the heads come from the "
                       "dataset (hm: its categories, wh: 2, reg: 2)", metavar="ARCH",
                       choices=sorted(ARCHITECTURES))
    head_conv: Optional[int] = option(None, "model", "hidden channels of the heads",
                                      default_help="the architecture's")
    pretrained_backbone: Optional[str] = option(None, "model", "local ImageNet state_dict of "
                                                "the backbone", default_help="from scratch")
    input_size: Tuple[int, int] = option((512, 512), "model", "SIDE or HEIGHT WIDTH of the "
                                         "training input, multiples of the architecture's "
                                         f"stride ({_strides()})", metavar="PX")
    normalization: str = option("coco_bgr", "model", "coco_bgr (the original statistics) or "
                                "imagenet_rgb", choices=sorted(NORMALIZATIONS))
    # Optimisation.
    epochs: int = option(140, "optimisation", "passes over the training set")
    batch_size: int = option(32, "optimisation", "the global batch, split evenly over the DDP "
                             "processes")
    lr: Optional[float] = option(None, "optimisation", "Adam learning rate",
                                 default_help=f"{BASE_LR} per {BASE_BATCH} images of the batch")
    lr_steps: Tuple[int, ...] = option((90, 120), "optimisation", "epochs (0-based, at their "
                                       "start) from which the lr is multiplied by lr_factor once "
                                       "more, comma-separated: the original --lr_step")
    lr_factor: float = option(0.1, "optimisation", "the lr's factor at each lr_steps epoch")
    warmup_iters: int = option(0, "optimisation", "iterations over which the lr ramps linearly "
                               "from ~0 (0: none)")
    grad_clip: Optional[float] = option(None, "optimisation", "max gradient norm",
                                        default_help="none")
    crop: str = option("random", "augmentation", "random, shift_scale (the original "
                       "not_rand_crop) or none", choices=CROP_MODES)
    flip: float = option(0.5, "augmentation", "horizontal flip probability")
    color: bool = option(True, "augmentation", "colour jitter and PCA lighting")
    # Runtime.
    device: Optional[str] = option(None, "runtime", "cuda, cpu, ...",
                                   default_help="the GPU if there is one (under torchrun the "
                                   "local rank's), else the CPU")
    amp: str = option("auto", "runtime", "mixed precision: auto (bfloat16 on a GPU that "
                      "supports it, off elsewhere), bf16, fp16 (with a gradient scaler) or off",
                      choices=AMP_MODES)
    channels_last: bool = option(False, "runtime", "channels-last memory format")
    compile: bool = option(False, "runtime", "torch.compile the model")
    sync_bn: bool = option(False, "runtime", "SyncBatchNorm across DDP processes (CUDA only, as "
                           "PyTorch's)")
    num_workers: int = option(4, "runtime", "data worker processes per training process (the "
                              "synthetic job: none on the CPU)", name="--workers")
    seed: int = option(0, "runtime", "model initialisation, data order and augmentation all "
                       "derive from it")
    eval_every: int = option(0, "runtime", "also evaluate every N epochs (0: only at the end)")
    checkpoint_every: int = option(0, "runtime", "also checkpoint every N iterations within an "
                                   "epoch (0: every epoch), for long epochs that must survive a "
                                   "kill")
    log_every: int = option(10, "runtime", "a log line every N iterations")
    eval_batch_size: int = option(8, "runtime", "batch size of the evaluation")

    def __post_init__(self):
        self.input_size = _size(self.input_size)
        self.lr_steps = tuple(int(s) for s in self.lr_steps)

    def validate(self, world_size: int = 1) -> None:
        """Raises ``TrainConfigError`` naming the first option that cannot be used."""
        self.validate_data()
        self.validate_options(world_size)

    def validate_data(self) -> None:
        """The dataset paths: a training split, and both or neither validation paths."""
        _check(bool(self.train_images) and bool(self.train_ann), "train_images/train_ann",
               "the training split is required", (self.train_images, self.train_ann))
        _check((self.val_images is None) == (self.val_ann is None), "val_images/val_ann",
               "give both or neither", (self.val_images, self.val_ann))

    def validate_options(self, world_size: int = 1) -> None:
        """``validate`` without the dataset paths: what can be checked before the data exists
        (the main job writes its dataset after this check)."""
        _check(self.arch in ARCHITECTURES, "arch", f"one of {', '.join(sorted(ARCHITECTURES))}",
               self.arch)
        _check(self.head_conv is None or self.head_conv >= 0, "head_conv", "None or >= 0",
               self.head_conv)
        multiple = ARCHITECTURES[self.arch].size_divisibility
        _check(all(s > 0 and s % multiple == 0 for s in self.input_size), "input_size",
               f"positive multiples of {multiple} for {self.arch}", self.input_size)
        _check(self.normalization in NORMALIZATIONS, "normalization",
               f"one of {sorted(NORMALIZATIONS)}", self.normalization)
        _check(self.epochs >= 1, "epochs", ">= 1", self.epochs)
        _check(self.batch_size >= 1 and self.batch_size % world_size == 0, "batch_size",
               f"a positive multiple of the number of processes ({world_size})", self.batch_size)
        _check(self.lr is None or self.lr > 0, "lr", "> 0", self.lr)
        _check(all(b > a for a, b in zip(self.lr_steps, self.lr_steps[1:]))
               and all(s >= 0 for s in self.lr_steps), "lr_steps",
               "increasing epochs >= 0", self.lr_steps)
        _check(0 < self.lr_factor <= 1, "lr_factor", "in (0, 1]", self.lr_factor)
        _check(self.warmup_iters >= 0, "warmup_iters", ">= 0", self.warmup_iters)
        _check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", "None or > 0",
               self.grad_clip)
        _check(self.crop in CROP_MODES, "crop", f"one of {CROP_MODES}", self.crop)
        _check(0.0 <= self.flip <= 1.0, "flip", "a probability", self.flip)
        _check(self.amp in AMP_MODES, "amp", f"one of {AMP_MODES}", self.amp)
        _check(self.num_workers >= 0, "num_workers", ">= 0", self.num_workers)
        for name in ("eval_every", "checkpoint_every"):
            _check(getattr(self, name) >= 0, name, ">= 0", getattr(self, name))
        for name in ("log_every", "eval_batch_size"):
            _check(getattr(self, name) >= 1, name, ">= 1", getattr(self, name))

    @property
    def base_lr(self) -> float:
        """The learning rate after warm-up and before the first drop."""
        return self.lr if self.lr is not None else BASE_LR * self.batch_size / BASE_BATCH

    def augment(self) -> AugmentConfig:
        return AugmentConfig(crop=self.crop, flip=self.flip, color=self.color)

    def norm(self) -> Normalization:
        return NORMALIZATIONS[self.normalization]

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: tuples as lists."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "TrainConfig":
        """The inverse of ``to_dict``; unknown keys raise ``TrainConfigError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise TrainConfigError(f"unknown training options: {', '.join(unknown)}")
        return cls(**values)


@functools.lru_cache(maxsize=None)
def option_types() -> Dict[str, Any]:
    """{option name: its type annotation} of TrainConfig (read once; do not modify)."""
    return typing.get_type_hints(TrainConfig)


def scalar_type(annotation: Any) -> type:
    """int, float, str or bool: the annotation itself, or X of Optional[X]."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if typing.get_origin(annotation) is Union and len(args) == 1 else annotation


def parse_option(name: str, text: str) -> Any:
    """The value of option ``name`` written as text (``--set name=text``, a JSON-less override):
    numbers as numbers, ``true``/``false`` for flags, ``none`` for an optional option,
    comma-separated integers for the tuples. Raises ``TrainConfigError`` naming the option."""
    types = option_types()
    if name not in types:
        raise TrainConfigError(f"unknown training option {name!r}; known: "
                               f"{', '.join(sorted(types))}")
    annotation = types[name]
    kind = scalar_type(annotation)
    try:
        if text.lower() == "none" and kind is not annotation:
            return None
        if typing.get_origin(kind) is tuple:
            values = tuple(int(v) for v in text.split(",") if v.strip())
            return values[0] if name == "input_size" and len(values) == 1 else values
        if kind is bool:
            if text.lower() not in BOOLEANS:
                raise ValueError(text)
            return BOOLEANS[text.lower()]
        return kind(text)
    except ValueError:
        raise TrainConfigError(f"{name}: expected {_describe_type(annotation)}; got {text!r}")


BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
            "on": True, "off": False}


def _describe_type(annotation: Any) -> str:
    kind = scalar_type(annotation)
    what = ("comma-separated integers" if typing.get_origin(kind) is tuple
            else {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "text"))
    return what + (" or none" if kind is not annotation else "")


def heads_for(num_classes: int) -> Dict[str, int]:
    """The ctdet heads: one heatmap channel per class, box size and centre offset."""
    return {"hm": int(num_classes), "wh": 2, "reg": 2}


def amp_dtype(amp: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``amp`` on ``device`` (None: full float32)."""
    if amp == "auto":
        supported = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if supported else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


def _size(value) -> Tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise TrainConfigError(f"input_size: expected one side or (height, width); got {value}")
    return value


def _check(ok: bool, name: str, expected: str, got) -> None:
    if not ok:
        raise TrainConfigError(f"{name}: expected {expected}; got {got!r}")
