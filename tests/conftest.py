"""Test fixtures: the compiled ops (``device`` comes from the top-level conftest) and the
training tests' tiny dataset, engine stand-ins and thread setting (from ``train_fixtures``)."""

import os

import pytest
import torch

import centernet_fast  # noqa: F401  (loads the ops, or fails under CENTERNET_FAST_REQUIRE_EXT=1)
import train_fixtures
from cuda_emu_harness import LIB_ENV

# The CUDA kernels on the CPU emulation need its library (scripts/test_cuda_emu.sh builds it and
# runs them, as CI does); a plain pytest run does not build it and so does not collect them.
collect_ignore_glob = [] if os.environ.get(LIB_ENV) else ["test_cuda_emu_*.py"]


@pytest.fixture
def native():
    """``torch.ops.centernet_fast``; skips only in an unbuilt checkout (under
    CENTERNET_FAST_REQUIRE_EXT=1, as in CI, the import above fails first)."""
    if not centernet_fast.ops.extension_available():
        pytest.skip("centernet_fast._C is not built")
    return torch.ops.centernet_fast


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """A 64 x 64 synthetic COCO dataset, read-only: {"train": CocoSplit, "val": CocoSplit}."""
    return train_fixtures.write_tiny_dataset(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def engine_stubs(monkeypatch):
    """``train_fixtures.EngineStubs`` in place of the training engine's evaluate and predict."""
    return train_fixtures.install_stubs(monkeypatch)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Torch on one thread for a whole module (``pytestmark = usefixtures(...)``)."""
    with train_fixtures.one_torch_thread():
        yield


@pytest.fixture(scope="session")
def emu():
    """``torch.ops.centernet_fast_cuda_emu``: the CUDA kernels on the CPU emulation (fails, not
    skips, when its library does not load)."""
    from cuda_emu_harness import load_emulation

    return load_emulation()
