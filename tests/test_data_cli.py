"""``centernet-fast data synthetic`` and ``centernet-fast data voc2coco``."""

import json

from centernet_fast import cli
from detection_data import DEEPFOREST_DIR, DEEPFOREST_JSON, read_json


def test_data_synthetic_writes_a_coco_dataset(tmp_path, capsys):
    out = tmp_path / "syn"
    assert cli.main(["data", "synthetic", "--out", str(out), "--num-train", "3", "--num-val",
                     "2", "--image-size", "64", "--max-objects", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    train = read_json(printed["train"]["ann_file"])
    assert len(train["images"]) == 3 and train["images"][0]["width"] == 64
    assert 3 <= len(train["annotations"]) <= 6
    assert len(read_json(out / "annotations" / "instances_val.json")["images"]) == 2


def test_data_voc2coco_converts_a_folder(tmp_path, capsys):
    out = tmp_path / "instances.json"
    assert cli.main(["data", "voc2coco", DEEPFOREST_DIR, "--images", DEEPFOREST_DIR,
                     "--out", str(out)]) == 0
    assert "2 images, 98 boxes" in capsys.readouterr().out
    assert read_json(out) == read_json(DEEPFOREST_JSON)
