"""The options of a training run (``TrainConfig``), their checks, and the derived values (learning
rate, mixed-precision dtype, model heads) every part of the training loop reads the same way."""

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

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


@dataclass
class TrainConfig:
    """Everything a training run depends on; the defaults are the original CenterNet's ctdet
    options (``opts.py``) where it has one.

    Data (COCO format: an images folder and an instances JSON per split):
        train_images, train_ann: the training split (required).
        val_images, val_ann: the split evaluated at the end (and every ``eval_every`` epochs);
            None: no evaluation.
    Model:
        arch: a ``models.ARCHITECTURES`` name; the heads come from the dataset
            (``hm``: number of categories, ``wh``: 2, ``reg``: 2).
        head_conv: hidden channels of the heads (None: the architecture's default).
        pretrained_backbone: a local ImageNet state_dict for the backbone (None: from scratch).
        input_size: (height, width) of the training input, multiples of the architecture's
            ``size_divisibility`` (32; 128 for hourglass).
        normalization: ``"coco_bgr"`` (the original statistics) or ``"imagenet_rgb"``.
    Optimisation:
        epochs: passes over the training set.
        batch_size: the global batch (split evenly over the DDP processes).
        lr: Adam learning rate; None: ``BASE_LR * batch_size / BASE_BATCH``.
        lr_steps: epochs (0-based, at their start) from which the lr is multiplied by
            ``lr_factor`` once more: the original ``--lr_step``.
        warmup_iters: the lr ramps linearly from ~0 over this many first iterations (0: none).
        grad_clip: clip the gradient norm to this value (None: no clipping).
    Augmentation: crop (``"random"``, ``"shift_scale"`` = the original ``not_rand_crop``,
        ``"none"``), flip probability, color (jitter and PCA lighting); see
        ``data.AugmentConfig``.
    Runtime:
        device: ``"cuda"``, ``"cpu"``, ...; None: the GPU when there is one (under torchrun the
            local rank's), else the CPU.
        amp: ``"auto"`` (bfloat16 autocast on a CUDA GPU that supports it, off elsewhere),
            ``"bf16"``, ``"fp16"`` (with a gradient scaler) or ``"off"``.
        channels_last: run the model in channels-last memory format.
        compile: ``torch.compile`` the model.
        sync_bn: SyncBatchNorm across DDP processes (CUDA only, as PyTorch's SyncBatchNorm).
        num_workers: DataLoader worker processes per training process.
        seed: model initialisation, data order and augmentation all derive from it.
    Schedule of the run's outputs:
        eval_every: also evaluate after every this many epochs (0: only at the end).
        checkpoint_every: also checkpoint every this many iterations within an epoch (0: only
            at the end of each epoch), for long epochs that must survive a kill.
        log_every: write a log line every this many iterations.
        eval_batch_size: batch size of the evaluation.
    """

    train_images: str = ""
    train_ann: str = ""
    val_images: Optional[str] = None
    val_ann: Optional[str] = None
    arch: str = "dla_34"
    head_conv: Optional[int] = None
    pretrained_backbone: Optional[str] = None
    input_size: Tuple[int, int] = (512, 512)
    normalization: str = "coco_bgr"
    epochs: int = 140
    batch_size: int = 32
    lr: Optional[float] = None
    lr_steps: Tuple[int, ...] = (90, 120)
    lr_factor: float = 0.1
    warmup_iters: int = 0
    grad_clip: Optional[float] = None
    crop: str = "random"
    flip: float = 0.5
    color: bool = True
    device: Optional[str] = None
    amp: str = "auto"
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False
    num_workers: int = 4
    seed: int = 0
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    eval_batch_size: int = 8

    def __post_init__(self):
        self.input_size = _size(self.input_size)
        self.lr_steps = tuple(int(s) for s in self.lr_steps)

    def validate(self, world_size: int = 1) -> None:
        """Raises ``TrainConfigError`` naming the first option that cannot be used."""
        _check(bool(self.train_images) and bool(self.train_ann), "train_images/train_ann",
               "the training split is required", (self.train_images, self.train_ann))
        _check((self.val_images is None) == (self.val_ann is None), "val_images/val_ann",
               "give both or neither", (self.val_images, self.val_ann))
        self.validate_options(world_size)

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
