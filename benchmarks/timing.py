"""Timing helpers for the benchmarks."""

import torch


def synchronized(fn, device):
    """Wraps fn so that a timed call includes the GPU work it queued."""
    if device != "cuda":
        return fn

    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        return out

    return run
