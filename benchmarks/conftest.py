"""Benchmark settings shared by every file: devices, CUDA-aware timing, machine info."""

import pytest
import torch

import centernet_fast

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def synchronized(fn, device):
    """Wraps fn so that a timed call includes the GPU work it queued."""
    if device != "cuda":
        return fn

    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        return out

    return run


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_cuda"] = torch.version.cuda
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    machine_info["centernet_fast_extension"] = centernet_fast.ops.extension_available()
