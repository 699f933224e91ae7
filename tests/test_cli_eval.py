"""``centernet-fast eval`` and ``centernet-fast predict`` end to end on tiny data: a random
res_18 at 64 x 64 on two synthetic validation images."""

import dataclasses
import json
import os

import pytest
import torch

from centernet_fast import cli
from centernet_fast.data import COCO_BGR, IMAGENET_RGB, SYNTHETIC_CLASSES, write_synthetic_coco
from centernet_fast.engine import METRIC_NAMES, load_model_for_inference
from centernet_fast.engine.loading import normalization_from_config
from centernet_fast.models import CheckpointError, create_model
from detection_data import read_json

HEADS = {"hm": 3, "wh": 2, "reg": 2}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(val split, training-style checkpoint with config, model-zoo-style checkpoint)."""
    root = tmp_path_factory.mktemp("cli_eval")
    split = write_synthetic_coco(str(root / "data"), num_train=2, num_val=2, image_size=64)["val"]
    torch.manual_seed(0)
    state = create_model("res_18", HEADS, head_conv=16).state_dict()
    state["wh.2.bias"].fill_(3.0)  # boxes of about 12 pixels instead of the initial ~0
    config = {"arch": "res_18", "heads": HEADS, "head_conv": 16, "input_size": 64,
              "class_names": list(SYNTHETIC_CLASSES), "normalization": "coco_bgr"}
    trained, zoo = root / "model_last.pth", root / "zoo.pth"
    torch.save({"epoch": 1, "state_dict": state, "config": config}, trained)
    torch.save({"epoch": 1, "state_dict": {"module." + k: v for k, v in state.items()}}, zoo)
    return split, str(trained), str(zoo)


def check_results(results, split, K):
    """COCO results of a random model on the 64 x 64 images: up to K per image, inside them
    (peaks in the keep_res padding map to boxes outside the image, which are dropped)."""
    image_ids = [img["id"] for img in read_json(split.ann_file)["images"]]
    assert results and {r["image_id"] for r in results} <= set(image_ids)
    assert all(sum(r["image_id"] == i for r in results) <= K for i in image_ids)
    assert {r["category_id"] for r in results} <= {1, 2, 3}
    for r in results:
        x, y, w, h = r["bbox"]
        assert 0 <= x and 0 <= y and 0 < w and 0 < h and x + w <= 64 and y + h <= 64, r
        assert 0 < r["score"] <= 1


def test_eval_writes_metrics_and_detections(setup, tmp_path, capsys):
    split, checkpoint, _ = setup
    out = tmp_path / "eval"
    assert cli.main(["eval", "--checkpoint", checkpoint, "--data", split.image_dir,
                     split.ann_file, "--out", str(out), "--device", "cpu", "--workers", "0"]) == 0
    metrics = read_json(out / "metrics.json")
    assert json.loads(capsys.readouterr().out) == metrics
    assert set(metrics) == set(METRIC_NAMES)
    assert all(0.0 <= v <= 1.0 or v == -1.0 for v in metrics.values())
    check_results(read_json(out / "detections.json"), split, K=100)


def test_eval_flip_test_and_keep_res(setup, tmp_path, capsys):
    split, checkpoint, _ = setup
    out = tmp_path / "eval"
    assert cli.main(["eval", "--checkpoint", checkpoint, "--data", split.image_dir,
                     split.ann_file, "--out", str(out), "--device", "cpu", "--workers", "0",
                     "--flip-test", "--keep-res", "--K", "50"]) == 0
    check_results(read_json(out / "detections.json"), split, K=50)
    assert set(read_json(out / "metrics.json")) == set(METRIC_NAMES)


def test_predict_folder_writes_pictures_and_json(setup, tmp_path, capsys):
    split, checkpoint, _ = setup
    out = tmp_path / "pred"
    assert cli.main(["predict", split.image_dir, "--checkpoint", checkpoint, "--out", str(out),
                     "--threshold", "0.05", "--device", "cpu", "--amp", "bf16"]) == 0
    records = read_json(out / "detections.json")
    images = sorted(os.listdir(split.image_dir))
    assert [os.path.basename(r["file_name"]) for r in records] == images
    assert sorted(os.listdir(out)) == sorted(["detections.json"] +
                                             [r["picture"] for r in records])
    assert all(d["class_name"] in SYNTHETIC_CLASSES and d["score"] >= 0.05
               for r in records for d in r["detections"])
    assert f"{len(records[0]['detections'])} detections" in capsys.readouterr().out


def test_model_zoo_checkpoint_needs_arch(setup, tmp_path, capsys):
    split, checkpoint, zoo = setup
    image = os.path.join(split.image_dir, sorted(os.listdir(split.image_dir))[0])
    assert cli.main(["predict", image, "--checkpoint", zoo, "--out", str(tmp_path)]) == 1
    assert "has no 'config'" in capsys.readouterr().err
    assert cli.main(["predict", image, "--checkpoint", zoo, "--arch", "res_18", "--head-conv",
                     "16", "--input-size", "64", "--class-names", "a", "b", "c", "--out",
                     str(tmp_path / "zoo"), "--device", "cpu"]) == 0
    assert read_json(tmp_path / "zoo" / "detections.json")[0]["file_name"] == image
    # The same weights either way: the heads were read off the state_dict.
    a, config = load_model_for_inference(zoo, arch="res_18", head_conv=16)
    b, _ = load_model_for_inference(checkpoint)
    assert config.heads == HEADS and config.class_names == ("class_0", "class_1", "class_2")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))
    assert not a.training
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_model_for_inference(zoo, arch="res_18")  # default head_conv 64 does not fit


def test_errors_name_what_is_wrong(setup, tmp_path, capsys):
    split, checkpoint, _ = setup
    data = ["--data", split.image_dir, split.ann_file, "--workers", "0"]
    missing = str(tmp_path / "nope.pth")
    assert cli.main(["eval", "--checkpoint", missing] + data) == 1
    assert f"centernet-fast eval: error: checkpoint: no such file: '{missing}'" in \
        capsys.readouterr().err
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "junk.pth")] + data) == 1
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["eval", "--checkpoint", checkpoint, "--data", split.image_dir,
                     str(tmp_path / "none.json")]) == 1
    assert "none.json does not exist" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "no_image.png"), "--checkpoint",
                     checkpoint]) == 1
    assert "no such image file or folder: " + str(tmp_path / "no_image.png") in \
        capsys.readouterr().err
    assert cli.main(["predict", split.image_dir, "--checkpoint", checkpoint, "--arch",
                     "dla_34"]) == 1
    assert "holds a res_18 model, not dla_34" in capsys.readouterr().err


def test_normalization_from_config_forms():
    assert normalization_from_config(None) is COCO_BGR
    assert normalization_from_config("ImageNet_RGB") is IMAGENET_RGB
    assert normalization_from_config(IMAGENET_RGB) is IMAGENET_RGB
    assert normalization_from_config(dataclasses.asdict(IMAGENET_RGB)) == IMAGENET_RGB
    with pytest.raises(ValueError, match="unknown normalization 'lab'"):
        normalization_from_config("lab")
