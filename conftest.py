"""Fixtures shared by tests/ and benchmarks/: the devices to run on."""

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Every test or benchmark taking ``device`` runs on the CPU and, when present, on CUDA."""
    return request.param
