"""Loading a checkpoint as a ready detector: the network, and how its inputs are made and its
classes named.

Two checkpoint kinds are read (both with ``torch.load(weights_only=True)``):
    - training checkpoints of this package: ``{"epoch", "state_dict", "config": {"arch",
      "heads", "head_conv", "input_size", "class_names", "normalization", ...}, ...}``;
    - original model-zoo ``.pth`` files (``{"epoch", "state_dict"}`` or a bare state_dict), which
      carry no config: the architecture must be named; the heads are read off the weights.
"""

import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from centernet_fast.data import COCO_BGR, NORMALIZATIONS, Normalization
from centernet_fast.data.affine import as_size
from centernet_fast.engine.coco_classes import COCO_CLASS_NAMES
from centernet_fast.models import (ARCHITECTURES, CheckpointError, create_model,
                                   load_original_checkpoint)
# The models' reader: file checks and the errors that name the file, shared with their loaders.
from centernet_fast.models.checkpoint import read_checkpoint
from centernet_fast.models.checkpoint import read_state_dict

DEFAULT_INPUT_SIZE = 512
DETECTION_HEADS = ("hm", "wh", "reg")


@dataclass(frozen=True)
class InferenceConfig:
    """What running a checkpoint needs besides its weights.

    arch, heads, head_conv: the ``create_model`` arguments (head_conv None: the arch default).
    input_size: (height, width) of the network input in resize mode.
    class_names: one name per heatmap channel.
    normalization: channel order and statistics of the input.
    """

    arch: str
    heads: Dict[str, int]
    head_conv: Optional[int]
    input_size: Tuple[int, int]
    class_names: Tuple[str, ...]
    normalization: Normalization

    @property
    def num_classes(self) -> int:
        return self.heads["hm"]

    @property
    def pad(self) -> int:
        """``keep_res`` padding: inputs are padded to multiples of pad + 1, the architecture's
        ``size_divisibility`` (128 for Hourglass, 32 otherwise), as the original."""
        return ARCHITECTURES[self.arch].size_divisibility - 1


def normalization_from_config(value: Any) -> Normalization:
    """A Normalization from a config entry: None (the original COCO BGR statistics), a
    Normalization, a name (``"coco_bgr"``, ``"imagenet_rgb"``, any case) or a mapping with
    ``channel_order``, ``mean`` and ``std``."""
    if value is None:
        return COCO_BGR
    if isinstance(value, Normalization):
        return value
    if isinstance(value, str) and value.lower() in NORMALIZATIONS:
        return NORMALIZATIONS[value.lower()]
    if isinstance(value, Mapping) and {"channel_order", "mean", "std"} <= set(value):
        return Normalization(value["channel_order"], tuple(value["mean"]), tuple(value["std"]))
    raise ValueError(f"unknown normalization {value!r}: expected one of {sorted(NORMALIZATIONS)} "
                     "or {'channel_order', 'mean', 'std'}")


def heads_from_state_dict(state: Mapping[str, torch.Tensor]) -> Dict[str, int]:
    """The detection heads of a state_dict: each of hm/wh/reg present, with the channels of its
    output layer (the last bias under that head: the last stack's for Hourglass)."""
    heads = {}
    for name in DETECTION_HEADS:
        biases = [v for k, v in state.items()
                  if k.removeprefix("module.").startswith(name + ".") and k.endswith("bias")]
        if biases:
            heads[name] = int(biases[-1].numel())
    if "hm" not in heads or "wh" not in heads:
        raise CheckpointError(f"the checkpoint has no 'hm'/'wh' heads (found {sorted(heads)}); "
                              "it is not a CenterNet detection checkpoint")
    return heads


def _class_names(names: Optional[Sequence[str]], num_classes: int, where: str
                 ) -> Tuple[str, ...]:
    if names is None:
        if num_classes == len(COCO_CLASS_NAMES):  # the model zoo's COCO detectors
            return COCO_CLASS_NAMES
        return tuple(f"class_{i}" for i in range(num_classes))
    names = tuple(str(n) for n in names)
    if len(names) != num_classes:
        raise ValueError(f"{where}: {len(names)} class names for a model of {num_classes} "
                         "classes")
    return names


def load_model_for_inference(checkpoint: Union[str, os.PathLike], device="cpu", *,
                             arch: Optional[str] = None, num_classes: Optional[int] = None,
                             head_conv: Optional[int] = None,
                             class_names: Optional[Sequence[str]] = None,
                             input_size: Optional[Union[int, Sequence[int]]] = None
                             ) -> Tuple[nn.Module, InferenceConfig]:
    """Builds the model of a checkpoint and loads its weights.

    Args:
        checkpoint: a training checkpoint with a ``config``, or a model-zoo ``.pth``.
        device: where the model goes.
        arch: required for a checkpoint without config (e.g. ``"dla_34"``); otherwise, if given,
            must equal the config's.
        num_classes: optional check of the heatmap channels.
        head_conv: for a checkpoint without config (None: the arch default, as the original).
        class_names: override (one per class); default the config's, else the COCO names for
            80 classes, else ``class_<i>``.
        input_size: override of the config's input size (default 512 without config).
    Returns:
        (model in eval mode on ``device``, its InferenceConfig).
    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a readable checkpoint, or weights that do not fit the model (every
            mismatch listed).
        ValueError: missing ``arch`` for a checkpoint without config, or arguments contradicting
            the checkpoint.
    """
    path = os.fspath(checkpoint)
    raw = read_checkpoint(path)
    config = raw.get("config") if isinstance(raw, Mapping) else None
    if config is not None:
        if not isinstance(config, Mapping) or "arch" not in config or "heads" not in config:
            raise CheckpointError(f"{path}: 'config' must be a dict with 'arch' and 'heads'")
        if arch is not None and arch != config["arch"]:
            raise ValueError(f"{path} holds a {config['arch']} model, not {arch}")
        arch, heads = config["arch"], dict(config["heads"])
        head_conv = config.get("head_conv", head_conv)
    else:
        if arch is None:
            raise ValueError(f"{path} has no 'config' (an original model-zoo checkpoint?): name "
                             "its architecture (arch=..., --arch), e.g. dla_34 or res_18")
        heads = heads_from_state_dict(read_state_dict(raw, path))
        config = {}
    if num_classes is not None and num_classes != heads.get("hm"):
        raise ValueError(f"{path} predicts {heads.get('hm')} classes, not {num_classes}")
    model = create_model(arch, heads, head_conv)
    load_original_checkpoint(model, raw)
    model.to(device).eval()
    size = input_size if input_size is not None else config.get("input_size") or DEFAULT_INPUT_SIZE
    info = InferenceConfig(
        arch=arch, heads=heads, head_conv=head_conv, input_size=as_size(size),
        class_names=_class_names(class_names if class_names is not None
                                 else config.get("class_names"), heads["hm"], path),
        normalization=normalization_from_config(config.get("normalization")))
    return model, info
