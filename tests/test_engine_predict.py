"""``engine.predict``: boxes in image pixels, pictures with the boxes drawn, the JSON, input
folders and bad paths."""

import math

import numpy as np
import pytest
from PIL import Image

from centernet_fast.data import COCO_BGR, DatasetError
from centernet_fast.engine import find_images, predict
from centernet_fast.engine.loading import InferenceConfig
from centernet_fast.engine.draw import class_color
from detection_data import read_json
from engine_fakes import PeakModel

GRAY = (128, 128, 128)
NAMES = ["cat", "dog"]
# (class, y, x, logit, w, h) on the output map.
PEAKS = [(1, 16, 12, 5.0, 10.0, 8.0), (0, 26, 26, 3.0, 4.0, 4.0)]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def gray_image(path, width=128, height=128):
    Image.new("RGB", (width, height), GRAY).save(path)
    return str(path)


def test_predict_maps_boxes_to_image_pixels_and_draws_them(tmp_path):
    path = gray_image(tmp_path / "scene.png")
    out = tmp_path / "out"
    records = predict(PeakModel(2, PEAKS), path, class_names=NAMES, device="cpu",
                      input_size=128, threshold=0.5, out_dir=out)
    assert len(records) == 1
    record = records[0]
    assert (record["file_name"], record["height"], record["width"]) == (path, 128, 128)
    # Input 128 for a 128-pixel image: image pixels are 4 x output cells (centre at cell + 0.5).
    first, second = record["detections"]
    assert first["box"] == [30.0, 50.0, 70.0, 82.0]
    assert (first["label"], first["class_name"]) == (1, "dog")
    assert first["score"] == pytest.approx(sigmoid(5.0), abs=1e-4)
    assert second["box"] == [98.0, 98.0, 114.0, 114.0] and second["class_name"] == "cat"
    assert read_json(out / "detections.json") == records

    picture = np.asarray(Image.open(out / record["picture"]))
    assert record["picture"] == "scene.png" and picture.shape == (128, 128, 3)
    dog = class_color(1)
    for y, x in [(66, 30), (66, 69), (50, 50), (81, 50)]:  # the four sides of [30, 70) x [50, 82)
        assert tuple(picture[y, x]) == dog, (y, x)
    assert tuple(picture[49, 30]) == dog  # the label tag above the box
    for y, x in [(66, 50), (66, 28), (66, 72), (5, 5), (90, 50)]:  # inside, beside, far away
        assert tuple(picture[y, x]) == GRAY, (y, x)
    changed = (picture != np.array(GRAY)).any(axis=2)
    assert changed[94:118, 94:118].any()  # the second box


def test_threshold_and_keep_res(tmp_path):
    path = gray_image(tmp_path / "wide.jpg", width=100, height=70)
    records = predict(PeakModel(2, PEAKS[:1] + [(0, 10, 12, 3.0, 5.0, 4.0)]), [path],
                      class_names=NAMES, device="cpu", keep_res=True, threshold=0.96)
    # keep_res: input 96 x 128 (each side (s | 31) + 1), centre (50, 35) on the map's (16, 12):
    # image = 4 * cell - (14, 13). Only the first peak (score 0.993) passes 0.96.
    assert [d["class_name"] for d in records[0]["detections"]] == ["dog"]
    assert records[0]["detections"][0]["box"] == pytest.approx([16.0, 37.0, 56.0, 69.0])
    assert "picture" not in records[0]  # no out_dir, nothing written
    low = predict(PeakModel(2, PEAKS[:1] + [(0, 10, 12, 3.0, 5.0, 4.0)]), [path],
                  class_names=NAMES, device="cpu", keep_res=True, threshold=0.9)
    assert low[0]["detections"][1]["box"] == pytest.approx([26.0, 21.0, 46.0, 37.0])


def test_folder_inputs_and_picture_names(tmp_path):
    """A folder gives its images sorted (other files ignored); pictures get unique names and never
    overwrite an input, even when written into the input folder."""
    gray_image(tmp_path / "b.png")
    gray_image(tmp_path / "a.jpg")
    gray_image(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.rsplit("/", 1)[1] for p in find_images(tmp_path)] == ["a.jpg", "a.png", "b.png"]
    records = predict(PeakModel(2, PEAKS), tmp_path, class_names=NAMES, device="cpu",
                      input_size=128, out_dir=tmp_path)
    assert [r["picture"] for r in records] == ["a_1.png", "a_2.png", "b_1.png"]
    assert np.asarray(Image.open(tmp_path / "a.png")).tolist() == \
        np.asarray(Image.new("RGB", (128, 128), GRAY)).tolist()
    assert len(read_json(tmp_path / "detections.json")) == 3


def test_bad_inputs_are_named(tmp_path):
    model = PeakModel(2, PEAKS)
    missing = str(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="no such image file or folder: .*missing.png"):
        predict(model, [gray_image(tmp_path / "ok.png"), missing], class_names=NAMES,
                device="cpu", out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything ran
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(DatasetError, match="cannot read image .*fake.png"):
        predict(model, tmp_path / "fake.png", class_names=NAMES, device="cpu")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no image files .* in .*empty"):
        predict(model, tmp_path / "empty", class_names=NAMES, device="cpu")
    with pytest.raises(ValueError, match="predicts 2 classes, expected 3"):
        predict(model, tmp_path / "ok.png", class_names=NAMES + ["bird"], device="cpu")


@pytest.mark.parametrize("arch, pad", [("hourglass", 127), ("dla_34", 31), ("lite", 31)])
def test_keep_res_padding_is_the_architectures_input_multiple(arch, pad):
    config = InferenceConfig(arch, {"hm": 1}, None, (512, 512), ("thing",), COCO_BGR)
    assert config.pad == pad
