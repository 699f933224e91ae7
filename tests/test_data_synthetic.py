"""The built-in synthetic dataset: determinism, COCO validity, shapes, and its loading."""

import contextlib
import filecmp
import io
import os

import numpy as np
import pytest
from pycocotools.coco import COCO

from centernet_fast.data import (SYNTHETIC_CLASSES, CocoDetection, draw_synthetic_image,
                                 write_synthetic_coco)
from detection_data import read_json

SMALL = dict(num_train=6, num_val=3, image_size=(96, 128))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    return str(out), write_synthetic_coco(str(out), seed=5, **SMALL)


def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, names in os.walk(root) for f in names)


def test_same_seed_same_files_other_seed_other_images(synthetic, tmp_path):
    out, _ = synthetic
    again = write_synthetic_coco(str(tmp_path / "again"), seed=5, **SMALL)
    assert files(out) == files(str(tmp_path / "again"))
    for name in files(out):
        assert filecmp.cmp(os.path.join(out, name), os.path.join(tmp_path, "again", name),
                           shallow=False), name
    other = write_synthetic_coco(str(tmp_path / "other"), seed=6, **SMALL)
    assert not filecmp.cmp(os.path.join(again["train"].image_dir, "000000.jpg"),
                           os.path.join(other["train"].image_dir, "000000.jpg"), shallow=False)
    # A split does not depend on the size of the other.
    more_val = write_synthetic_coco(str(tmp_path / "more_val"), seed=5, num_train=6, num_val=5,
                                    image_size=(96, 128))
    assert filecmp.cmp(again["train"].ann_file, more_val["train"].ann_file, shallow=False)


def test_written_dataset_is_valid_coco(synthetic):
    _, splits = synthetic
    for split, count in (("train", 6), ("val", 3)):
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(splits[split].ann_file)
        assert len(coco.getImgIds()) == count
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(SYNTHETIC_CLASSES)
        for img in coco.loadImgs(coco.getImgIds()):
            assert os.path.isfile(os.path.join(splits[split].image_dir, img["file_name"]))
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
            assert 1 <= len(anns) <= 6
            for a in anns:
                x, y, w, h = a["bbox"]
                assert x >= 0 and y >= 0 and x + w <= 128 and y + h <= 96
                assert 8 <= w <= 32 and 8 <= h <= 32  # a third of the shorter side
                assert a["area"] == w * h and a["iscrowd"] == 0


def test_reuses_a_dataset_written_with_the_same_arguments(synthetic, tmp_path):
    out = str(tmp_path / "d")
    first = write_synthetic_coco(out, seed=1, **SMALL)
    stamp = os.stat(first["train"].ann_file).st_mtime_ns
    assert write_synthetic_coco(out, seed=1, **SMALL) == first
    assert os.stat(first["train"].ann_file).st_mtime_ns == stamp
    write_synthetic_coco(out, seed=2, **SMALL)
    assert read_json(os.path.join(out, "synthetic.json"))["seed"] == 2


def test_classes_differ_by_shape_not_colour():
    fills = {label: [] for label in range(3)}
    means = {label: [] for label in range(3)}
    for seed in range(40):
        image, objects = draw_synthetic_image(np.random.default_rng(seed), (128, 128))
        assert 1 <= len(objects) <= 6
        for obj in objects:
            fills[obj.label].append(obj.fill)
            x1, y1, x2, y2 = obj.box
            means[obj.label].append(image[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0))
    rect, ellipse, triangle = (np.array(fills[k]) for k in range(3))
    assert rect.min() > 0.99
    assert np.abs(ellipse - np.pi / 4).max() < 0.06
    assert np.abs(triangle - 0.5).max() < 0.06
    colours = [np.mean(means[k], axis=0) for k in range(3)]
    assert max(np.abs(a - b).max() for a in colours for b in colours) < 40


def test_object_count_and_size_options():
    for seed in range(10):
        _, objects = draw_synthetic_image(np.random.default_rng(seed), (100, 100), objects=(2, 2),
                                          min_size=20, max_size=25)
        assert len(objects) == 2
        for obj in objects:
            x1, y1, x2, y2 = obj.box
            assert 20 <= x2 - x1 <= 25 and 20 <= y2 - y1 <= 25
    with pytest.raises(ValueError, match="min_size"):
        draw_synthetic_image(np.random.default_rng(0), (20, 20), min_size=30)
    with pytest.raises(ValueError, match="image_format"):
        write_synthetic_coco("unused", image_format="gif")


def test_loads_through_the_dataset(synthetic):
    _, splits = synthetic
    train = CocoDetection(*splits["train"], train=True, input_size=128, check_images=True)
    val = CocoDetection(*splits["val"], input_size=128)
    assert train.num_classes == 3 and train.skipped == {} and len(val) == 3
    s = val[0]
    assert s.image.shape == (3, 128, 128) and len(s.boxes) == len(val.coco.getAnnIds(
        imgIds=[s.meta.image_id]))
    assert train[0].image.shape == (3, 128, 128)
