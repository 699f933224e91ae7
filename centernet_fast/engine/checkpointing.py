"""Training checkpoints: everything a killed run needs to continue exactly, in a file the model
zoo loaders also read.

A checkpoint is a dict (written with ``atomic_files.atomic_write``)::

    {"epoch": epochs completed,                  # as the original model_last.pth
     "state_dict": {key: tensor},                # model-zoo layout: load_original_checkpoint reads it
     "iteration": iterations done in epoch "epoch" (0 at an epoch boundary),
     "global_step": optimiser steps taken in all,
     "optimizer", "scheduler", "scaler": their state_dicts,
     "rng": {"torch", "numpy", "python"[, "cuda"]},
     "config": {"arch", "heads", "head_conv", "input_size", "down_ratio", "class_names",
                "cat_ids", "normalization": {"channel_order", "mean", "std"},
                "train": TrainConfig.to_dict()}}

Only tensors, numbers, strings and containers of them are stored, so it loads with
``torch.load(weights_only=True)``.
"""

import os
import random
from typing import Any, Dict

import numpy as np
import torch
from torch import nn

from centernet_fast.atomic_files import atomic_write
from centernet_fast.engine.config import DOWN_RATIO, TrainConfig
from centernet_fast.models.checkpoint import (CheckpointError, load_checked, model_zoo_state_dict,
                                              unwrap_model)

#: Entries every training checkpoint has.
REQUIRED_KEYS = ("epoch", "iteration", "global_step", "state_dict", "optimizer", "scheduler",
                 "scaler", "rng", "config")


def model_config(config: TrainConfig, heads: Dict[str, int], head_conv: int,
                 class_names, cat_ids) -> Dict[str, Any]:
    """What rebuilding the trained model and reading its outputs needs (the ``"config"`` entry)."""
    norm = config.norm()
    return {"arch": config.arch, "heads": dict(heads), "head_conv": int(head_conv),
            "input_size": list(config.input_size), "down_ratio": DOWN_RATIO,
            "class_names": list(class_names), "cat_ids": [int(c) for c in cat_ids],
            "normalization": {"channel_order": norm.channel_order, "mean": list(norm.mean),
                              "std": list(norm.std)},
            "train": config.to_dict()}


def rng_state() -> Dict[str, Any]:
    """The global random states: torch (CPU), numpy, python and, when CUDA is initialised, every
    GPU's; numpy's as tensors so that the checkpoint stays loadable with weights_only."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restores what ``rng_state`` returned (the CUDA states only where GPUs are present)."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][:torch.cuda.device_count()])


def save_training_checkpoint(path: str, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                             scheduler, scaler, epoch: int, iteration: int, global_step: int,
                             config: Dict[str, Any]) -> None:
    """Writes the checkpoint described in the module docstring to ``path``, atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    checkpoint = {"epoch": int(epoch), "iteration": int(iteration),
                  "global_step": int(global_step), "state_dict": model_zoo_state_dict(model),
                  "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                  "scaler": scaler.state_dict(), "rng": rng_state(), "config": config}
    with atomic_write(path) as f:
        torch.save(checkpoint, f)


def check_resume_path(path: str) -> None:
    """Raises ``FileNotFoundError`` when there is no checkpoint file at ``path``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"resume: no checkpoint at {path!r}")


def read_training_checkpoint(path: str) -> Dict[str, Any]:
    """Reads a checkpoint written by ``save_training_checkpoint`` onto the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is not a checkpoint, or not a training checkpoint (a
            model-zoo file has no optimiser state to continue from), naming the file.
    """
    check_resume_path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling, zip and format errors all mean "not a checkpoint"
        raise CheckpointError(f"resume: cannot read {path!r} as a checkpoint: {e}") from e
    missing = [k for k in REQUIRED_KEYS if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise CheckpointError(f"resume: {path!r} is not a training checkpoint of centernet-fast "
                              f"(missing {', '.join(missing)}); a model-zoo checkpoint can start "
                              "a run as --pretrained weights, not be resumed")
    return checkpoint


def restore_training_state(checkpoint: Dict[str, Any], *, model: nn.Module,
                           optimizer: torch.optim.Optimizer, scheduler, scaler) -> None:
    """Loads a checkpoint's model (checked key by key), optimiser, scheduler, scaler and random
    states into the given objects."""
    load_checked(unwrap_model(model), checkpoint["state_dict"], what="resume checkpoint")
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    scaler.load_state_dict(checkpoint["scaler"])
    set_rng_state(checkpoint["rng"])


def last_checkpoint_path(run_dir: str) -> str:
    """Where a run keeps its latest checkpoint (what ``--resume`` without a path continues)."""
    return os.path.join(run_dir, "checkpoints", "last.pth")


def final_checkpoint_path(run_dir: str) -> str:
    return os.path.join(run_dir, "checkpoints", "final.pth")


def describe(checkpoint: Dict[str, Any]) -> str:
    """``epoch E, iteration I (step S)`` for log messages."""
    return (f"epoch {checkpoint['epoch']}, iteration {checkpoint['iteration']} "
            f"(step {checkpoint['global_step']})")
