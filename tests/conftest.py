"""Test fixtures: the compiled ops (``device`` comes from the top-level conftest)."""

import pytest
import torch

import centernet_fast  # noqa: F401  (loads the ops, or fails under CENTERNET_FAST_REQUIRE_EXT=1)


@pytest.fixture
def native():
    """``torch.ops.centernet_fast``; skips only in an unbuilt checkout (under
    CENTERNET_FAST_REQUIRE_EXT=1, as in CI, the import above fails first)."""
    if not centernet_fast.ops.extension_available():
        pytest.skip("centernet_fast._C is not built")
    return torch.ops.centernet_fast
