"""Padded batches, and their targets drawn by ctdet_targets in one call."""

import numpy as np
import pytest
import torch

from centernet_fast import ops
from centernet_fast.data import (Batch, CocoDetection, CtdetTransform, ImageMeta, Sample,
                                 batch_targets, collate_detections)
from detection_data import DEEPFOREST_DIR, DEEPFOREST_JSON


def sample(num_boxes, input_size=(32, 32), seed=0):
    g = torch.Generator().manual_seed(seed)
    warp = CtdetTransform(input_size).warp(*input_size)
    xy = torch.rand(num_boxes, 2, generator=g) * 4
    boxes = torch.cat([xy, xy + 1 + torch.rand(num_boxes, 2, generator=g) * 3], dim=1)
    return Sample(torch.rand(3, *input_size, generator=g), boxes,
                  torch.randint(0, 5, (num_boxes,), generator=g),
                  ImageMeta(seed, f"{seed}.png", input_size, warp))


def test_collate_pads_boxes_labels_and_images():
    samples = [sample(3, seed=1), sample(0, seed=2), sample(5, (64, 32), seed=3)]
    batch = collate_detections(samples)
    assert batch.images.shape == (3, 3, 64, 32) and batch.images.dtype == torch.float32
    assert batch.boxes.shape == (3, 5, 4) and batch.boxes.dtype == torch.float32
    assert batch.labels.shape == (3, 5) and batch.labels.dtype == torch.int64
    assert batch.output_size == (16, 8)
    assert [m.image_id for m in batch.metas] == [1, 2, 3]
    for i, s in enumerate(samples):
        n = len(s.boxes)
        assert torch.equal(batch.boxes[i, :n], s.boxes) and batch.boxes[i, n:].eq(0).all()
        assert torch.equal(batch.labels[i, :n], s.labels) and batch.labels[i, n:].eq(-1).all()
        h, w = s.image.shape[1:]
        assert torch.equal(batch.images[i, :, :h, :w], s.image)
        assert batch.images[i, :, h:].eq(0).all() and batch.images[i, :, :, w:].eq(0).all()
    with pytest.raises(ValueError, match="zero samples"):
        collate_detections([])


def test_batch_without_objects_gives_empty_targets():
    batch = collate_detections([sample(0, seed=1), sample(0, seed=2)])
    assert batch.boxes.shape == (2, 0, 4) and batch.labels.shape == (2, 0)
    t = batch_targets(batch, num_classes=5)
    assert t.hm.shape == (2, 5, 8, 8) and t.hm.eq(0).all() and t.reg_mask.eq(0).all()


def test_batch_targets_equal_ctdet_targets_per_image():
    dataset = CocoDetection(DEEPFOREST_DIR, DEEPFOREST_JSON, train=True, input_size=256)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=collate_detections)
    batch = next(iter(loader)).to("cpu")
    assert isinstance(batch, Batch)
    targets = batch_targets(batch, dataset.num_classes, (64, 64), max_objs=50)
    assert targets.hm.shape == (2, 3, 64, 64) and targets.ind.shape == (2, 50)
    assert int(targets.reg_mask.sum()) > 50  # both images contribute (50 slots each at most)
    for i in range(2):
        s = dataset[i]
        single = ops.ctdet_targets(s.boxes[None], s.labels[None], dataset.num_classes, (64, 64),
                                   max_objs=50)
        for name, value in targets._asdict().items():
            assert torch.equal(value[i], getattr(single, name)[0]), name
    default = batch_targets(batch, dataset.num_classes, max_objs=50, radius_mode="corrected")
    corrected = ops.ctdet_targets(batch.boxes, batch.labels, 3, (64, 64), 50,
                                  radius_mode="corrected")
    assert torch.equal(default.hm, corrected.hm)


def test_batch_to_keeps_metas():
    batch = collate_detections([sample(2, seed=4)])
    moved = batch.to(torch.device("cpu"))
    assert moved.metas is batch.metas and torch.equal(moved.boxes, batch.boxes)
    np.testing.assert_array_equal(moved.metas[0].warp.output_to_image,
                                  batch.metas[0].warp.output_to_image)
