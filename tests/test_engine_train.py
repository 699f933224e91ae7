"""engine.train: the training loop on tiny synthetic data (the light model at 64 x 64, CPU)."""

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from centernet_fast import data
from centernet_fast.engine.config import TrainConfig, TrainConfigError, amp_dtype
from centernet_fast.engine.run_dir import curves_figure, draw_curves
from centernet_fast.engine.schedule import epoch_batches, lr_lambda
from centernet_fast.engine.train import train
from train_fixtures import read_log, tiny_config, write_tiny_dataset


# Training runs on one torch thread (see conftest.torch_one_thread).
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_training_steps_reduce_the_loss(tmp_path, tiny_data, engine_stubs):
    """No augmentation: every epoch sees the same 8 images, in another order; the epoch's mean
    loss falls."""
    result = train(tiny_config(tiny_data, epochs=6), str(tmp_path / "run"))
    steps = read_log(result.run_dir)
    assert [s["step"] for s in steps] == list(range(1, 13)) and result.global_step == 12
    first = np.mean([s["loss"] for s in steps[:2]])
    last = np.mean([s["loss"] for s in steps[-2:]])
    assert last < 0.6 * first, (first, last)
    assert all(s["loss"] == pytest.approx(s["hm"] + 0.1 * s["wh"] + s["off"], rel=1e-5)
               for s in steps)
    epochs = read_log(result.run_dir, "epoch")  # one record per epoch: the means of its steps
    assert [e["epoch"] for e in epochs] == list(range(1, 7))
    assert [e["step"] for e in epochs] == list(range(2, 13, 2))
    for e, pair in zip(epochs, zip(steps[::2], steps[1::2])):
        assert e["loss"] == pytest.approx(np.mean([s["loss"] for s in pair]), rel=1e-5)
        assert e["seconds"] > 0


def test_run_directory_and_final_evaluation(tmp_path, tiny_data, engine_stubs):
    out = tmp_path / "run"
    result = train(tiny_config(tiny_data, epochs=2, log_every=2), str(out))
    assert sorted(os.listdir(out)) == ["checkpoints", "config.json", "log.jsonl", "loss.png",
                                       "metrics.json"]
    assert sorted(os.listdir(out / "checkpoints")) == ["final.pth", "last.pth"]
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["arch"] == "lite" and config["iters_per_epoch"] == 2
    assert config["model"]["heads"] == {"hm": 3, "wh": 2, "reg": 2}
    assert config["model"]["class_names"] == list(data.SYNTHETIC_CLASSES)
    assert config["model"]["train"]["batch_size"] == 4
    with Image.open(out / "loss.png") as png:
        assert png.format == "PNG" and png.size == (800, 480)
    epochs = [r["epoch"] for r in read_log(out)]
    assert epochs == [1, 2]  # one record per two steps
    # The evaluation: once, at the end, on the validation split, into the run directory, with
    # the trained (unwrapped) model, in training mode again afterwards.
    (call,) = engine_stubs.evaluate_calls
    assert call["out_dir"] == str(out) and call["dataset"].ann_file == tiny_data["val"].ann_file
    assert call["dataset"].train is False and call["device"] == torch.device("cpu")
    assert call["model"] is result.model and call["amp_dtype"] is None
    assert result.model.training
    assert result.metrics == json.loads((out / "metrics.json").read_text())
    assert read_log(out, "eval")[0]["AP"] == 0.25


def test_evaluation_every_n_epochs(tmp_path, tiny_data, engine_stubs):
    train(tiny_config(tiny_data, epochs=3, eval_every=1), str(tmp_path / "run"))
    dirs = [os.path.relpath(c["out_dir"], tmp_path / "run") for c in engine_stubs.evaluate_calls]
    assert dirs == ["eval_epoch_001", "eval_epoch_002", "."]


def test_no_validation_split_no_evaluation(tmp_path, tiny_data, engine_stubs):
    config = tiny_config(tiny_data, epochs=1)
    config.val_images = config.val_ann = None
    assert train(config, str(tmp_path / "run")).metrics is None
    assert engine_stubs.evaluate_calls == []


def test_bfloat16_channels_last_and_gradient_clipping_train(tmp_path, tiny_data, engine_stubs):
    result = train(tiny_config(tiny_data, epochs=1, amp="bf16", channels_last=True, grad_clip=1.0),
                   str(tmp_path / "run"))
    assert all(np.isfinite(s["loss"]) for s in read_log(result.run_dir))
    assert engine_stubs.evaluate_calls[0]["amp_dtype"] is torch.bfloat16


def test_mixed_precision_defaults_to_bfloat16_on_gpus_only():
    assert amp_dtype("auto", torch.device("cpu")) is None
    assert amp_dtype("off", torch.device("cuda")) is None
    assert amp_dtype("fp16", torch.device("cpu")) is torch.float16


def test_learning_rate_schedule(tmp_path, tiny_data, engine_stubs):
    """Original defaults: 1.25e-4 per 32 images; x0.1 from each lr step epoch; linear warm-up."""
    assert TrainConfig(batch_size=64).base_lr == pytest.approx(2.5e-4)
    schedule = lr_lambda(TrainConfig(lr_steps=(2, 3), warmup_iters=4), iters_per_epoch=5)
    factors = [schedule(step) for step in range(20)]
    assert factors[:5] == pytest.approx([0.25, 0.5, 0.75, 1, 1])
    assert factors[5:10] == [1.0] * 5 and factors[10:15] == pytest.approx([0.1] * 5)
    assert factors[15:] == pytest.approx([0.01] * 5)
    result = train(tiny_config(tiny_data, epochs=3, lr=1e-3, lr_steps=(1, 2), warmup_iters=3),
                   str(tmp_path / "run"))
    lrs = [s["lr"] for s in read_log(result.run_dir)]
    assert lrs == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-4, 1e-4, 1e-5, 1e-5])


def test_config_round_trips_through_its_dict():
    config = TrainConfig(train_images="i", train_ann="a.json", input_size=(64, 96), lr_steps=(3,))
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(TrainConfigError, match="unknown training options: speed"):
        TrainConfig.from_dict({"speed": 2})


def test_epoch_batches_skip_whole_batches():
    assert epoch_batches(range(7), 2) == [[0, 1], [2, 3], [4, 5]]
    assert epoch_batches(range(7), 2, skip=2) == [[4, 5]]


@pytest.mark.parametrize("overrides, match", [
    (dict(arch="res_19"), "arch: expected one of"),
    (dict(input_size=(64, 70)), "input_size: expected positive multiples of 32"),
    (dict(batch_size=0), "batch_size"),
    (dict(epochs=0), "epochs"),
    (dict(lr=-1.0), "lr: expected > 0"),
    (dict(lr_steps=(3, 2)), "lr_steps"),
    (dict(amp="fp8"), "amp: expected one of"),
    (dict(crop="zoom"), "crop"),
    (dict(num_workers=-1), "num_workers"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(batch_size=16), "batch_size: 16 is more than the 8 training images"),
    (dict(sync_bn=True), "sync_bn: PyTorch's SyncBatchNorm runs on CUDA GPUs only"),
    (dict(device="gpu"), "device: expected a torch device"),
])
def test_bad_options_are_named(tmp_path, tiny_data, engine_stubs, overrides, match):
    with pytest.raises(TrainConfigError, match=match):
        train(tiny_config(tiny_data, **overrides), str(tmp_path / "run"))
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_missing_dataset_files_are_named(tmp_path, tiny_data, engine_stubs):
    config = tiny_config(tiny_data)
    config.train_ann = str(tmp_path / "nowhere.json")
    with pytest.raises(data.DatasetError, match="nowhere.json does not exist"):
        train(config, str(tmp_path / "run"))


def test_validation_categories_must_match_training(tmp_path, tiny_data, engine_stubs):
    other = json.loads(open(tiny_data["val"].ann_file).read())
    other["categories"][0]["name"] = "square"
    path = tmp_path / "val.json"
    path.write_text(json.dumps(other))
    config = tiny_config(tiny_data)
    config.val_ann = str(path)
    with pytest.raises(TrainConfigError, match="categories of .*val.json .*square.* differ"):
        train(config, str(tmp_path / "run"))


def test_an_existing_run_is_not_overwritten(tmp_path, tiny_data, engine_stubs):
    train(tiny_config(tiny_data, epochs=1), str(tmp_path / "run"))
    with pytest.raises(FileExistsError, match="already holds a training run; continue it"):
        train(tiny_config(tiny_data, epochs=1), str(tmp_path / "run"))


def test_random_crops_draw_targets_for_the_objects_left(tmp_path, engine_stubs):
    """With the original random crop, flips and colour, objects leave the crop (and some images
    end up with none): training runs through such batches."""
    splits = write_tiny_dataset(tmp_path / "data", num_train=8, objects=(0, 3))
    result = train(tiny_config(splits, epochs=1, crop="random", flip=0.5, color=True),
                   str(tmp_path / "run"))
    assert all(np.isfinite(s["loss"]) for s in read_log(result.run_dir))


def test_loss_curve_is_a_labelled_log_chart(tmp_path):
    steps = [1, 2, 3, 4]
    series = {"loss": [3.0, 2.0, 1.5, 1.0], "hm": [2.0, 0.0, float("nan"), 0.5],
              "wh": [-1.0, 0.0, 0.0, 0.0]}  # nothing a log axis can show
    figure = curves_figure(steps, series, "training loss: run")
    (axes,) = figure.axes
    assert axes.get_title() == "training loss: run" and axes.get_yscale() == "log"
    assert axes.get_xlabel() == "optimiser step" and axes.get_ylabel() == "loss (log scale)"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["loss", "hm"]
    assert list(axes.lines[1].get_xdata()) == [1, 4]  # the zero and the NaN are left out
    assert len(axes.get_yticks()) > 1
    draw_curves(steps, series, str(tmp_path / "loss.png"))
    with Image.open(tmp_path / "loss.png") as png:
        assert png.format == "PNG" and png.size == (800, 480)
        assert len(png.convert("RGB").getcolors(1 << 16)) > 10  # drawn, not blank
