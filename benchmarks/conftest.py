"""Benchmark settings: the machine info stored in the JSON, and a guard against timing the
reference twice (``device`` comes from the top-level conftest)."""

import pytest
import torch

import centernet_fast


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["torch"] = torch.__version__
    machine_info["torch_cuda"] = torch.version.cuda
    machine_info["torch_threads"] = torch.get_num_threads()
    machine_info["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    machine_info["centernet_fast_extension"] = centernet_fast.ops.extension_available()
    if torch.cuda.is_available():
        machine_info["cudnn"] = torch.backends.cudnn.version()
        machine_info["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
        machine_info["tf32_cudnn"] = torch.backends.cudnn.allow_tf32


@pytest.fixture(autouse=True)
def fused_ops_built():
    """Without the compiled extension ``centernet_fast.ops`` falls back to the reference, and
    every "fused" row would be the reference again: fail instead of measuring that."""
    if not centernet_fast.ops.extension_available():
        pytest.fail("centernet_fast._C is not built: the fused ops would fall back to the "
                    "reference and the benchmarks would compare it with itself")
