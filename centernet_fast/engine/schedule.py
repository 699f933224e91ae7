"""What makes a run reproducible and resumable: the seeding, the learning-rate schedule as a
function of the step, and the batches of an epoch from any iteration on."""

import random
from typing import Callable, List

import numpy as np
import torch
from torch.utils.data import Sampler

from centernet_fast.engine.config import TrainConfig


def seed_everything(seed: int) -> None:
    """Seeds torch (CPU and every GPU), numpy and python's global generators. The model
    initialisation draws from torch's; the data order and augmentation have their own generators
    derived from the seed (``DistributedSampler``, ``CocoDetection``)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def lr_lambda(config: TrainConfig, iters_per_epoch: int) -> Callable[[int], float]:
    """The factor of ``config.base_lr`` at optimiser step ``step`` (0-based), for
    ``torch.optim.lr_scheduler.LambdaLR`` stepped once per iteration.

    ``lr_factor`` to the power of the number of ``lr_steps`` reached by the step's epoch (the
    original: with ``--lr_step 90,120`` epochs 91-120 (1-based) train at 0.1x and 121- at
    0.01x), times a linear warm-up ``(step + 1) / warmup_iters`` over the first
    ``warmup_iters`` steps.
    """
    steps, factor, warmup = config.lr_steps, config.lr_factor, config.warmup_iters

    def schedule(step: int) -> float:
        epoch = step // iters_per_epoch
        value = factor ** sum(epoch >= s for s in steps)
        if warmup:
            value *= min(1.0, (step + 1) / warmup)
        return value

    return schedule


def epoch_batches(sampler: Sampler, batch_size: int, skip: int = 0) -> List[List[int]]:
    """The epoch's batches of ``batch_size`` indices in ``sampler`` order, whole batches only
    (as the original's drop_last), without the first ``skip`` batches: a run resumed in the middle
    of an epoch sees exactly the batches the killed run had not reached. Usable as a DataLoader's
    ``batch_sampler``."""
    indices = list(sampler)
    count = len(indices) // batch_size
    return [indices[i * batch_size:(i + 1) * batch_size] for i in range(skip, count)]
