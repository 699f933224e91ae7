"""Shared fixtures: the devices to test on and random padded batches of boxes."""

import pytest
import torch

import centernet_fast  # noqa: F401  (loads the ops, or fails under CENTERNET_FAST_REQUIRE_EXT=1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def random_batch(generator, batch, num_boxes, num_classes, height, width, pad_fraction=0.2,
                 margin=0.25):
    """Random float32 boxes [B, N, 4] and int64 labels [B, N] on an H x W map.

    Box corners are drawn in [-margin*size, (1+margin)*size] so that some boxes cross or leave the
    border; about ``pad_fraction`` of the labels are -1 (padding).
    """
    scale = torch.tensor([width, height], dtype=torch.float32)
    lo = -margin * scale
    p1 = lo + torch.rand(batch, num_boxes, 2, generator=generator) * scale * (1 + 2 * margin)
    size = torch.rand(batch, num_boxes, 2, generator=generator) ** 2 * scale * 0.6
    boxes = torch.cat([p1, p1 + size], dim=-1)
    labels = torch.randint(0, num_classes, (batch, num_boxes), generator=generator)
    pad = torch.rand(batch, num_boxes, generator=generator) < pad_fraction
    return boxes, labels.masked_fill(pad, -1)


@pytest.fixture
def native():
    """``torch.ops.centernet_fast``; skips only in an unbuilt checkout (under
    CENTERNET_FAST_REQUIRE_EXT=1, as in CI, the import above fails first)."""
    if not centernet_fast.ops.extension_available():
        pytest.skip("centernet_fast._C is not built")
    return torch.ops.centernet_fast
