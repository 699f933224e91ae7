"""Benchmark settings: the machine info stored in the JSON (``device`` comes from the top-level
conftest)."""

import torch

import centernet_fast


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_cuda"] = torch.version.cuda
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    machine_info["centernet_fast_extension"] = centernet_fast.ops.extension_available()
