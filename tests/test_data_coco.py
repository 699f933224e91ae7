"""The COCO-format dataset: the DeepForest fixture through it, its modes, and bad input."""

import contextlib
import io
import logging
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.cocoeval import COCOeval

from centernet_fast.data import (IMAGENET_RGB, CocoDetection, DatasetError, collate_detections,
                                 load_coco, transform_boxes)
from detection_data import DEEPFOREST_DIR, DEEPFOREST_JSON, read_json, write_json


def deepforest(**kwargs):
    return CocoDetection(DEEPFOREST_DIR, DEEPFOREST_JSON, **kwargs)


def json_boxes(image_id):
    data = read_json(DEEPFOREST_JSON)
    return torch.tensor([[x, y, x + w, y + h] for a in data["annotations"]
                         if a["image_id"] == image_id for x, y, w, h in [a["bbox"]]])


def test_deepforest_fixture_loads_in_test_mode_and_maps_back():
    ds = deepforest(input_size=512, check_images=True)
    assert len(ds) == 2 and ds.skipped == {}
    assert ds.class_names == ["Alive", "Dead", "Tree"] and ds.cat_ids == [1, 2, 3]
    counts = []
    for i in range(2):
        s = ds[i]
        assert s.image.shape == (3, 512, 512) and s.image.dtype == torch.float32
        assert s.boxes.dtype == torch.float32 and s.labels.dtype == torch.int64
        assert s.meta.image_size == (400, 400) and s.meta.warp.output_size == (128, 128)
        counts.append(len(s.boxes))
        # Output boxes taken back by the inverse affine are the annotated boxes.
        back = transform_boxes(s.boxes, s.meta.warp.output_to_image)
        torch.testing.assert_close(back, json_boxes(s.meta.image_id), atol=1e-3, rtol=0)
    assert counts == [61, 37]
    assert ds[0].labels.eq(2).all()  # OSBS: all Tree
    assert torch.bincount(ds[1].labels, minlength=3).tolist() == [9, 28, 0]


def test_deepforest_keep_res():
    s = deepforest(keep_res=True)[1]
    assert s.image.shape == (3, 416, 416) and s.meta.warp.output_size == (104, 104)
    back = transform_boxes(s.boxes, s.meta.warp.output_to_image)
    torch.testing.assert_close(back, json_boxes(2), atol=1e-3, rtol=0)


def test_deepforest_training_samples_are_seeded_per_epoch():
    ds = deepforest(train=True, input_size=256, seed=3)
    first = ds[0]
    assert first.image.shape == (3, 256, 256)
    assert 0 < len(first.boxes) <= 61 and len(first.labels) == len(first.boxes)
    assert (first.boxes >= 0).all() and (first.boxes[:, 2:] <= 64).all()
    assert (first.boxes[:, 2:] > first.boxes[:, :2]).all()
    again = ds[0]
    assert torch.equal(first.image, again.image) and torch.equal(first.boxes, again.boxes)
    ds.set_epoch(1)
    assert not torch.equal(ds[0].image, first.image)
    ds.set_epoch(0)
    assert torch.equal(ds[0].image, first.image)
    assert not torch.equal(deepforest(train=True, input_size=256, seed=4)[0].image, first.image)


def test_deepforest_through_a_dataloader():
    loader = torch.utils.data.DataLoader(deepforest(train=True, input_size=256), batch_size=2,
                                         collate_fn=collate_detections)
    batch = next(iter(loader))
    assert batch.images.shape == (2, 3, 256, 256) and batch.output_size == (64, 64)
    n = max(len(batch.labels[0].ne(-1).nonzero()), len(batch.labels[1].ne(-1).nonzero()))
    assert batch.boxes.shape == (2, n, 4)
    assert [m.image_id for m in batch.metas] == [1, 2]


# Bad input -------------------------------------------------------------------------------------

def small_coco(tmp_path, annotations=(), images=None, size=(40, 60)):
    """A COCO folder with one or more gray images; returns (image_dir, ann_file)."""
    image_dir = tmp_path / "images"
    image_dir.mkdir(exist_ok=True)
    images = images or [{"id": 1, "file_name": "a.png", "height": size[0], "width": size[1]}]
    for img in images:
        path = image_dir / img["file_name"]
        if not path.exists():
            Image.new("RGB", (size[1], size[0]), (90, 90, 90)).save(path)
    data = {"images": images, "annotations": list(annotations),
            "categories": [{"id": 7, "name": "thing"}, {"id": 3, "name": "other"}]}
    return str(image_dir), write_json(tmp_path / "ann.json", data)


def ann(id, bbox, image_id=1, category_id=7):
    return {"id": id, "image_id": image_id, "category_id": category_id, "bbox": bbox}


def test_bad_annotations_are_skipped_and_logged(tmp_path, caplog):
    anns = [ann(1, [5, 5, 10, 10]),                      # good
            ann(2, [50, 30, 20, 20], category_id=3),     # partly outside: clipped
            ann(3, [100, 100, 5, 5]),                    # outside the image: dropped
            ann(4, [5, 5, 0, 8]),                        # zero area
            ann(5, [5, 5, 8, 8], category_id=99),        # unknown category
            ann(6, [5, 5, 8, 8], image_id=42),           # unknown image
            ann(7, [5, 5, 8]),                           # malformed bbox
            {"id": 8, "bbox": [1, 1, 2, 2]},             # malformed annotation
            ann(9, [1, 2, 3, float("nan")]),             # non-finite
            ann(1, [6, 6, 10, 10])]                      # repeated id
    images = [{"id": 1, "file_name": "a.png", "height": 40, "width": 60},
              {"id": 2, "file_name": "b.png", "height": 40, "width": 60}]  # no annotations
    with caplog.at_level(logging.WARNING, logger="centernet_fast.data"):
        ds = CocoDetection(*small_coco(tmp_path, anns, images), input_size=(40, 60), down_ratio=1)
    assert ds.skipped == {"box outside the image": 1, "zero-area box": 1,
                          "unknown category id": 1, "unknown image id": 1, "malformed bbox": 2,
                          "malformed annotation": 1, "repeated annotation id": 1}
    for reason in ds.skipped:
        assert reason in caplog.text
    assert "annotation 5 of image 1" in caplog.text and "ann.json" in caplog.text
    assert len(ds) == 2  # the image without annotations is kept, as in the original
    s = ds[0]
    assert s.labels.tolist() == [1, 0]  # category 7 -> label 1, category 3 -> label 0
    torch.testing.assert_close(s.boxes, torch.tensor([[5.0, 5, 15, 15], [50, 30, 60, 40]]))
    empty = ds[1]
    assert empty.boxes.shape == (0, 4) and empty.labels.shape == (0,)
    assert sorted(ds.coco.getAnnIds()) == [1, 2]  # the ground truth holds the usable ones
    assert ds.coco.anns[2]["bbox"] == [50.0, 30.0, 10.0, 10.0]


def test_json_that_is_not_coco_names_the_file(tmp_path):
    path = tmp_path / "x.json"
    cases = {"{not json": "not readable JSON", "[1, 2]": "not a COCO instances file",
             '{"images": [], "annotations": []}': "not a COCO instances file",
             '{"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}]}': r"images\[0\]",
             '{"images": {}, "categories": []}': "'images' must be a list",
             '{"images": [], "categories": []}': "'categories' is empty",
             '{"images": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}':
                 "repeats id 1"}
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(DatasetError, match=message) as info:
            load_coco(str(path))
        assert str(path) in str(info.value)
    with pytest.raises(DatasetError, match="does not exist"):
        CocoDetection(str(tmp_path), str(tmp_path / "missing.json"))


def test_missing_image_names_the_file(tmp_path):
    image_dir, ann_file = small_coco(tmp_path)
    os.remove(os.path.join(image_dir, "a.png"))
    with pytest.raises(DatasetError, match="missing") as info:
        CocoDetection(image_dir, ann_file)
    assert "a.png" in str(info.value)


def test_unreadable_image_names_the_file(tmp_path):
    image_dir, ann_file = small_coco(tmp_path, [ann(1, [5, 5, 10, 10])])
    with open(os.path.join(image_dir, "a.png"), "wb") as f:
        f.write(b"not an image at all")
    with pytest.raises(DatasetError, match="cannot read image .*a.png"):
        CocoDetection(image_dir, ann_file, check_images=True)
    ds = CocoDetection(image_dir, ann_file)
    with pytest.raises(DatasetError, match="cannot read image .*a.png"):
        ds[0]
    # In a worker process the same error reaches the main process with its message.
    batches = iter(torch.utils.data.DataLoader(ds, num_workers=1, collate_fn=collate_detections))
    try:
        next(batches)
        pytest.fail("no error from the worker")
    except DatasetError as exc:
        message = str(exc)
        # The traceback holds the loader in a reference cycle; dropping it stops the worker now
        # rather than in a later garbage collection, where torch's shutdown waits 5 s.
        exc.__traceback__ = None
    del batches
    assert re.search("cannot read image .*a.png", message)


def test_image_of_another_size_than_the_json_names_the_file(tmp_path):
    image_dir, ann_file = small_coco(tmp_path, [ann(1, [5, 5, 10, 10])])
    Image.new("RGB", (30, 20)).save(os.path.join(image_dir, "a.png"))
    with pytest.raises(DatasetError, match="a.png is 20x30"):
        CocoDetection(image_dir, ann_file, check_images=True)
    with pytest.raises(DatasetError, match="a.png is 20x30"):
        CocoDetection(image_dir, ann_file)[0]


def test_sizes_missing_from_the_json_are_read_from_the_images(tmp_path):
    image_dir, ann_file = small_coco(tmp_path, [ann(1, [50, 30, 20, 20])],
                                     images=[{"id": 1, "file_name": "a.png"}], size=(40, 60))
    ds = CocoDetection(image_dir, ann_file, keep_res=True, down_ratio=1)
    assert ds.coco.imgs[1]["height"] == 40 and ds.coco.imgs[1]["width"] == 60
    s = ds[0]
    assert s.meta.image_size == (40, 60)
    back = transform_boxes(s.boxes, s.meta.warp.output_to_image)
    torch.testing.assert_close(back, torch.tensor([[50.0, 30, 60, 40]]))  # clipped to the image
    with pytest.raises(DatasetError, match="no width/height"):
        load_coco(ann_file)


def test_rgba_and_grayscale_images_are_read_as_rgb(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "height": 8, "width": 8},
              {"id": 2, "file_name": "b.png", "height": 8, "width": 8}]
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    Image.new("RGBA", (8, 8), (10, 20, 30, 0)).save(image_dir / "a.png")
    Image.new("L", (8, 8), 77).save(image_dir / "b.png")
    ds = CocoDetection(*small_coco(tmp_path, images=images), input_size=8, down_ratio=1,
                       normalization=IMAGENET_RGB)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    rgb = [(ds[i].image * std + mean) * 255 for i in range(2)]
    torch.testing.assert_close(rgb[0][:, 4, 4], torch.tensor([10.0, 20, 30]), atol=1e-3, rtol=0)
    torch.testing.assert_close(rgb[1][:, 4, 4], torch.tensor([77.0, 77, 77]), atol=1e-3, rtol=0)
    assert np.isfinite(rgb[0].numpy()).all()


def test_ground_truth_through_the_pipeline_and_back_scores_ap_1():
    """Output-map boxes of every sample, taken back by ``output_to_image`` and scored by
    pycocotools against the dataset's own ground truth: AP = 1 in both test modes."""
    for kwargs in (dict(input_size=384), dict(keep_res=True)):
        ds = deepforest(**kwargs)
        detections = []
        for s in ds:
            back = transform_boxes(s.boxes, s.meta.warp.output_to_image).tolist()
            detections += [{"image_id": s.meta.image_id, "category_id": ds.cat_ids[label],
                            "bbox": [x1, y1, x2 - x1, y2 - y1], "score": 1.0}
                           for (x1, y1, x2, y2), label in zip(back, s.labels.tolist())]
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation = COCOeval(ds.coco, ds.coco.loadRes(detections), "bbox")
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        assert evaluation.stats[0] == pytest.approx(1.0), kwargs
