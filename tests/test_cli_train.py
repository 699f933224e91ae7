"""``centernet-fast train`` end to end on tiny data, and its errors."""

import dataclasses
import json
import os
import re

import pytest

from centernet_fast import cli, data
from centernet_fast.engine.config import TrainConfig
from centernet_fast.engine.train_commands import config_from_args
from train_fixtures import read_log


# Training runs on one torch thread (see conftest.torch_one_thread).
pytestmark = pytest.mark.usefixtures("torch_one_thread")


TINY = ["--arch", "lite", "--input-size", "64", "--batch-size", "4", "--workers", "0",
        "--log-every", "1"]


def test_train_on_a_dataset_folder(tmp_path, tiny_data, engine_stubs, capsys):
    root = os.path.dirname(tiny_data["train"].image_dir)
    out = tmp_path / "run"
    assert cli.main(["train", root, "--out", str(out), "--epochs", "1", "--lr", "1e-3",
                     "--lr-steps", "", *TINY]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["run_dir"] == str(out) and printed["metrics"]["AP"] == 0.25
    assert printed["checkpoint"] == str(out / "checkpoints" / "final.pth")
    assert json.loads((out / "metrics.json").read_text())["AP50"] == 0.25
    config = json.loads((out / "config.json").read_text())["model"]["train"]
    assert config["train_ann"] == tiny_data["train"].ann_file
    assert config["val_ann"] == tiny_data["val"].ann_file
    # The original defaults where the command gives none.
    assert (config["crop"], config["flip"], config["color"], config["amp"]) == \
           ("random", 0.5, True, "auto")
    assert config["lr_steps"] == [] and config["input_size"] == [64, 64]
    assert [r["step"] for r in read_log(out)] == [1, 2]
    assert engine_stubs.predict_calls == []  # pictures only for the main job, unless asked


def test_resume_continues_a_run_from_the_command_line(tmp_path, tiny_data, engine_stubs, capsys):
    root = os.path.dirname(tiny_data["train"].image_dir)
    args = ["train", root, "--out", str(tmp_path / "run"), *TINY]
    assert cli.main([*args, "--epochs", "1"]) == 0
    assert cli.main([*args, "--epochs", "2", "--resume"]) == 0
    assert [r["step"] for r in read_log(tmp_path / "run")] == [1, 2, 3, 4]


def test_main_job_without_a_dataset(tmp_path, capsys):
    """The synthetic preset, shrunk by its options to seconds, through the real evaluation and
    drawing: the dataset is written into the run directory, trained on, evaluated into
    OUT/metrics.json and drawn into OUT/predictions."""
    out = tmp_path / "run"
    assert cli.main(["train", "--out", str(out), "--synthetic-train", "8", "--synthetic-val", "3",
                     "--synthetic-size", "64", "--input-size", "64", "--epochs", "1",
                     "--batch-size", "4", "--predict", "2"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    # Fractions, or -1 where COCOeval has no ground truth of that size (its convention).
    assert all(0.0 <= v <= 1.0 or v == -1.0 for v in metrics.values())
    assert json.loads(capsys.readouterr().out)["metrics"] == metrics
    detections = json.loads((out / "detections.json").read_text())
    assert {d["image_id"] for d in detections} <= {img["id"] for img in json.loads(
        (out / "synthetic" / "annotations" / "instances_val.json").read_text())["images"]}
    train_ann = out / "synthetic" / "annotations" / "instances_train.json"
    assert len(json.loads(train_ann.read_text())["images"]) == 8
    config = json.loads((out / "config.json").read_text())["model"]
    assert config["arch"] == "lite" and config["class_names"] == list(data.SYNTHETIC_CLASSES)
    assert sorted(os.listdir(out / "predictions")) == ["000000.png", "000001.png",
                                                       "detections.json"]
    drawn = json.loads((out / "predictions" / "detections.json").read_text())
    assert [os.path.basename(r["file_name"]) for r in drawn] == ["000000.jpg", "000001.jpg"]


@pytest.mark.parametrize("args, message", [
    (["MISSING"], "dataset folder .*missing does not exist"),
    (["DATA", "--val-split", "test"], "instances_test.json does not exist"),
    (["DATA", "--input-size", "65"], "input_size: expected positive multiples of 32 for dla_34"),
    (["DATA", "--arch", "hourglass", "--input-size", "480"],
     r"input_size: expected positive multiples of 128 for hourglass; got \(480, 480\)"),
    (["DATA", "--input-size", "64", "64", "64"],
     r"input_size: expected one side or \(height, width\); got \(64, 64, 64\)"),
    (["DATA", "--predict", "-1"], "--predict: expected a number of images >= 0, got -1"),
    (["DATA", "--batch-size", "0"], "batch_size: expected a positive multiple"),
    (["DATA", "--lr", "0"], "lr: expected > 0"),
    (["DATA", "--resume"], "no checkpoint at .*checkpoints/last.pth"),
    (["--train-images", "DATA/train"], "--train-ann: required"),
    (["--train-ann", "DATA/annotations/instances_train.json"], "--train-images: required"),
])
def test_bad_input_gives_one_clear_error(tmp_path, tiny_data, engine_stubs, capsys, args,
                                         message):
    root = os.path.dirname(tiny_data["train"].image_dir)
    args = [a.replace("DATA", root).replace("MISSING", str(tmp_path / "missing")) for a in args]
    assert cli.main(["train", *args, "--out", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("centernet-fast train: error: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize("args", [["--amp", "fp8"], ["--epochs", "two"], ["--lr-steps", "9,x"],
                                  ["--arch", "res_19"]])
def test_malformed_options_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", *args])
    assert exc.value.code == 2 and "usage: centernet-fast train" in capsys.readouterr().err


def test_main_job_checks_its_options_before_writing_data(tmp_path, capsys):
    out = tmp_path / "run"
    for args in (["--input-size", "65"], ["--resume", str(tmp_path / "none.pth")]):
        assert cli.main(["train", "--out", str(out), *args]) == 2
        assert "centernet-fast train: error: " in capsys.readouterr().err
        assert not (out / "synthetic").exists()


def test_flags_turn_preset_options_off(tmp_path):
    parser_args = cli.build_parser().parse_args(["train", "--no-channels-last", "--color"])
    config, synthetic = config_from_args(parser_args)
    assert synthetic and config.channels_last is False and config.color is True


def test_an_existing_run_needs_resume(tmp_path, tiny_data, engine_stubs, capsys):
    root = os.path.dirname(tiny_data["train"].image_dir)
    args = ["train", root, "--out", str(tmp_path / "run"), "--epochs", "1", *TINY]
    assert cli.main(args) == 0
    assert cli.main(args) == 2
    assert "already holds a training run; continue it with --resume" in capsys.readouterr().err


def parse_train(*args):
    return config_from_args(cli.build_parser().parse_args(["train", *args]))


def test_every_training_option_has_a_flag_from_its_field(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # unwrapped
    for f in dataclasses.fields(TrainConfig):
        flag = f.metadata.get("name", "--" + f.name.replace("_", "-"))
        assert f"{flag} " in shown and " ".join(f.metadata["help"].split()) in shown, f.name


def test_config_file_then_flags_then_set(tmp_path):
    options = tmp_path / "options.json"
    options.write_text(json.dumps({"epochs": 7, "lr": 0.01, "lr_steps": [5, 6], "crop": "none"}))
    config, synthetic = parse_train("--config", str(options), "--epochs", "9",
                                    "--set", "lr=none", "grad_clip=2.5", "--set", "color=false")
    assert synthetic and config.epochs == 9 and config.lr is None and config.grad_clip == 2.5
    assert config.lr_steps == (5, 6) and config.crop == "none" and config.color is False
    assert config.arch == "lite"  # the synthetic preset, below the file
    # A run's config.json: the options it started from.
    run_config = tmp_path / "config.json"
    run_config.write_text(json.dumps({"model": {"arch": "lite", "train": TrainConfig(
        arch="res_18", input_size=(96, 128), epochs=3).to_dict()}}))
    config, _ = parse_train("--config", str(run_config), "--set", "input_size=64")
    assert config.arch == "res_18" and config.epochs == 3 and config.input_size == (64, 64)


@pytest.mark.parametrize("args, message", [
    (["--set", "speed=2"], "unknown training option 'speed'"),
    (["--set", "epochs=two"], "epochs: expected an integer; got 'two'"),
    (["--set", "color=maybe"], "color: expected true or false; got 'maybe'"),
    (["--set", "epochs"], "--set: expected KEY=VALUE, got 'epochs'"),
    (["--config", "MISSING"], "--config: .*missing.json does not exist"),
    (["--config", "LIST"], "--config: .*list.json must hold a JSON object"),
    (["--config", "UNKNOWN"], "unknown training options: speed"),
])
def test_bad_config_and_overrides_are_named(tmp_path, capsys, args, message):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "unknown.json").write_text('{"speed": 2}')
    paths = {"MISSING": "missing.json", "LIST": "list.json", "UNKNOWN": "unknown.json"}
    args = [str(tmp_path / paths[a]) if a in paths else a for a in args]
    assert cli.main(["train", "--out", str(tmp_path / "run"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("centernet-fast train: error: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err
