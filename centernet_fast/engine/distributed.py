"""Data-parallel training under ``torchrun``: process group set-up from the environment torchrun
provides, and the few collective operations the training loop needs. Without torchrun everything
here degrades to a single process."""

import datetime
import os
from dataclasses import dataclass
from typing import Callable, Dict, Optional, TypeVar

import torch
import torch.distributed as dist

from centernet_fast.engine.config import TrainConfigError

#: How long a collective waits for the slowest process. Longer than the backends' defaults
#: (10 min for NCCL): the other ranks wait in one while rank 0 evaluates a large validation set.
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=1)

T = TypeVar("T")


class MainProcessError(RuntimeError):
    """Raised on the other ranks when work done on rank 0 alone failed (rank 0 raises the
    original exception)."""


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its
    node, and the ``device`` it trains on. Rank 0 (``is_main``) logs and saves. ``owns_group``:
    the process group was created by ``setup_distributed`` (and is destroyed by
    ``cleanup_distributed``)."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def choose_device(requested: Optional[str], local_rank: int = 0) -> torch.device:
    """``requested`` as a device; None: the local rank's GPU when CUDA is available, else the CPU.
    A bare ``"cuda"`` under torchrun means the local rank's GPU. Raises ``TrainConfigError`` for
    a name torch does not know and for CUDA where there is none."""
    if requested is None:
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError as e:
        raise TrainConfigError(f"device: expected a torch device such as 'cuda', 'cuda:1' or "
                               f"'cpu'; got {requested!r}") from e
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainConfigError(f"device: {requested!r} was asked for but CUDA is not "
                                   "available to this torch")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup_distributed(requested_device: Optional[str] = None) -> DistInfo:
    """Joins the process group when started by torchrun (``WORLD_SIZE`` > 1 in the environment):
    NCCL when training on GPUs, gloo on the CPU. A process started any other way is rank 0 of 1.
    Calling it again in a process whose group is already initialised reuses that group."""
    world_size = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    device = choose_device(requested_device, local_rank)
    owns_group = False
    if world_size > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            # device_id binds NCCL to this rank's GPU up front (gloo takes none).
            kwargs = {"device_id": device} if backend == "nccl" else {}
            dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT, **kwargs)
            owns_group = True
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank, world_size, local_rank, device, owns_group)


def cleanup_distributed(info: DistInfo) -> None:
    """Destroys the process group if ``setup_distributed`` created it."""
    if info.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def on_main_process(info: DistInfo, work: Callable[[], T], what: str) -> Optional[T]:
    """Runs ``work()`` on rank 0 only and returns its result there (None elsewhere); every rank
    waits for it. Whether it failed is shared by an all-reduce, so that a failure on rank 0
    (a full disk, a bad validation file) raises on every rank (``MainProcessError`` naming
    ``what`` on the others) instead of leaving them waiting in the next collective."""
    result, error = None, None
    if info.is_main:
        try:
            result = work()
        except BaseException as e:  # re-raised below, after the other ranks are told
            error = e
    if info.distributed:
        failed = torch.tensor([float(error is not None)], device=info.device)
        dist.all_reduce(failed)
        if error is None and failed.item() > 0:
            raise MainProcessError(f"{what} failed on the main process (rank 0); its error is "
                                   "in rank 0's output")
    if error is not None:
        raise error
    return result


def mean_over_processes(values: Dict[str, torch.Tensor], info: DistInfo) -> Dict[str, float]:
    """The mean over all processes of each 0-dim tensor in ``values``, as Python floats (one
    all-reduce for all of them). In a single process: the values themselves."""
    names = list(values)
    stacked = torch.stack([values[n].detach().float() for n in names])
    if info.distributed:
        dist.all_reduce(stacked)
        stacked /= info.world_size
    return dict(zip(names, stacked.tolist()))
