"""Loading and saving checkpoints in the format of the original CenterNet model zoo.

A model-zoo ``.pth`` is ``{"epoch": int, "state_dict": {key: tensor}, ["optimizer": ...]}``;
models trained under ``DataParallel`` carry a ``module.`` key prefix, and every DLA checkpoint
carries ``base.fc.*``, a classifier the detector never uses. Loading is all or nothing: a
checkpoint that does not fit the model raises ``CheckpointError`` naming every missing key,
unexpected key and shape mismatch, instead of a partial load.
"""

import os
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import torch
from torch import nn

from centernet_fast.atomic_files import atomic_write

PathOrStateDict = Union[str, os.PathLike, Mapping[str, Any]]

_SHOWN = 20  # keys listed per kind of problem; the rest are counted


class CheckpointError(ValueError):
    """A checkpoint whose keys or shapes do not fit the model."""


def unwrap_model(model: nn.Module) -> nn.Module:
    """The plain module inside ``DataParallel``/``DistributedDataParallel`` (``.module``) and
    ``torch.compile`` (``._orig_mod``) wrappers, so that keys carry no wrapper prefix."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # OptimizedModule
            model = model._orig_mod
        else:
            return model


def read_state_dict(path_or_state_dict: PathOrStateDict, what: str = "checkpoint"
                    ) -> Dict[str, torch.Tensor]:
    """The ``{key: tensor}`` state_dict of a file path (read with ``weights_only=True`` onto the
    CPU) or a mapping; a dict with a ``"state_dict"`` entry (the model-zoo format) gives that
    entry. Raises ``CheckpointError`` when it is not a mapping of str to tensors."""
    state = read_checkpoint(path_or_state_dict, what)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{what}: expected a state_dict (a mapping of keys to tensors) or "
                              f"a dict with 'state_dict', got {type(state).__name__}")
    bad = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise CheckpointError(f"{what}: state_dict entries must map str keys to tensors; "
                              f"offending keys: {_listing(map(repr, bad))}")
    return dict(state)


def read_checkpoint(path_or_state_dict: PathOrStateDict, what: str = "checkpoint") -> Any:
    """The object a ``torch.save`` file holds (read onto the CPU with ``weights_only=True``:
    tensors and plain containers only, no code), or ``path_or_state_dict`` itself when it is not
    a path. A missing file raises ``FileNotFoundError``, an unreadable one ``CheckpointError``;
    ``what`` names the file's role in both messages."""
    if not isinstance(path_or_state_dict, (str, os.PathLike)):
        return path_or_state_dict
    path = os.fspath(path_or_state_dict)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{what}: no such file: {path!r}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, zip and format errors all mean "not a checkpoint"
        raise CheckpointError(f"{what}: cannot read {path!r} as a torch.save'd state_dict "
                              f"(tensors only): {e}") from e


def load_checked(module: nn.Module, state: Mapping[str, torch.Tensor],
                 ignore_prefixes: Iterable[str] = (), what: str = "checkpoint",
                 target: Optional[str] = None) -> None:
    """Loads ``state`` into ``module`` only if it fits exactly: the same keys (``state`` keys
    starting with one of ``ignore_prefixes`` dropped; missing BatchNorm ``num_batches_tracked``
    counters keep the module's values, as PyTorch does for checkpoints older than 0.4.1) and the
    same shapes. Otherwise raises ``CheckpointError`` and leaves ``module`` untouched. Values
    are copied into the module's parameters and buffers, converting dtype and device.
    ``what`` and ``target`` (default: the module's class) name both sides in the error."""
    ignore = tuple(ignore_prefixes)
    state = {k: v for k, v in state.items() if not (ignore and k.startswith(ignore))}
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: checkpoint {list(v.shape)}, model {list(expected[k].shape)}"
                  for k, v in state.items() if k in expected and v.shape != expected[k].shape]
    problems = [f"{len(keys)} {kind}: {_listing(keys)}" for kind, keys in
                (("missing keys", missing), ("unexpected keys", unexpected),
                 ("shape mismatches", mismatched)) if keys]
    if problems:
        target = target or f"the {type(module).__name__} model"
        raise CheckpointError(f"{what} does not match {target} (nothing was loaded); "
                              + "; ".join(problems))
    for key in expected:
        state.setdefault(key, expected[key])  # only num_batches_tracked can be absent here
    module.load_state_dict(state, strict=True)


def _listing(items: Iterable[str]) -> str:
    items = list(items)
    more = f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return ", ".join(items[:_SHOWN]) + more


def load_original_checkpoint(model: nn.Module, path_or_state_dict: PathOrStateDict
                             ) -> Dict[str, Any]:
    """Loads a CenterNet model-zoo checkpoint into ``model`` (wrappers are looked through).

    Args:
        model: a model from ``create_model`` (or any module with the original key layout).
        path_or_state_dict: path to a ``.pth`` (``{"epoch", "state_dict", ...}`` or a bare
            state_dict), or such a dict. A ``module.`` key prefix is stripped; ``base.fc.*``
            (the unused DLA classifier) is ignored.
    Returns:
        The checkpoint's other entries (e.g. ``{"epoch": 140}``); ``{}`` for a bare state_dict.
    Raises:
        CheckpointError: missing or unexpected keys, or shape mismatches (all of them listed);
            the model is left unchanged.
    """
    raw = read_checkpoint(path_or_state_dict)
    extras = ({k: v for k, v in raw.items() if k != "state_dict"}
              if isinstance(raw, Mapping) and "state_dict" in raw else {})
    state = read_state_dict(raw)
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    load_checked(unwrap_model(model), state, ignore_prefixes=("base.fc.",),
                 what="CenterNet checkpoint")
    return extras


def model_zoo_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """``model``'s state_dict as the model zoo stores it: keys without wrapper prefixes (see
    ``unwrap_model``), tensors detached on the CPU."""
    return {k: v.detach().cpu() for k, v in unwrap_model(model).state_dict().items()}


def save_checkpoint(path: Union[str, os.PathLike], model: nn.Module, epoch: Optional[int] = None,
                    optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    """Writes ``{"epoch": epoch, "state_dict": ...[, "optimizer": ...]}`` (the model-zoo format;
    keys without wrapper prefixes, tensors on the CPU) to ``path`` atomically: a temporary file in
    the same directory, then ``os.replace``, so a crash never leaves a truncated checkpoint."""
    checkpoint: Dict[str, Any] = {"epoch": epoch, "state_dict": model_zoo_state_dict(model)}
    if optimizer is not None:
        checkpoint["optimizer"] = optimizer.state_dict()
    with atomic_write(path) as f:
        torch.save(checkpoint, f)
