"""Checkpoints of engine.train: their contents, their atomic writing, and resuming a killed run
exactly (CPU, 0 workers)."""

import os
import random

import numpy as np
import pytest
import torch

from centernet_fast.engine.checkpointing import (REQUIRED_KEYS, read_training_checkpoint,
                                                 rng_state, set_rng_state)
from centernet_fast.engine import train as train_module
from centernet_fast.engine.config import TrainConfigError
from centernet_fast.engine.train import train
from centernet_fast.models import (CheckpointError, create_model, load_original_checkpoint,
                                   save_checkpoint)
from train_fixtures import install_stubs, read_log, tiny_config


# Training runs on one torch thread (see conftest.torch_one_thread).
pytestmark = pytest.mark.usefixtures("torch_one_thread")


class Killed(Exception):
    """Stands for the process dying: raised from the step callback, it unwinds the run with
    nothing saved beyond what was on disk at that moment."""


def kill_at(step):
    def callback(info):
        if info.global_step == step:
            raise Killed
    return callback


def augmented(tiny_data, **overrides):
    """Random crops, flips and colour: resuming must also resume the augmentation draws."""
    return tiny_config(tiny_data, epochs=3, crop="random", flip=0.5, color=True,
                       warmup_iters=2, lr_steps=(2,), **overrides)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_data):
    """Three epochs of two steps, never stopped: the log and the final weights."""
    with pytest.MonkeyPatch.context() as mp:
        install_stubs(mp)
        result = train(augmented(tiny_data), str(tmp_path_factory.mktemp("run") / "full"))
    return read_log(result.run_dir), result.model.state_dict()


@pytest.mark.parametrize("checkpoint_every, kill, resumed_from", [
    (0, 4, 2),   # killed in epoch 2: continues from the end of epoch 1
    (1, 5, 4),   # checkpoints every iteration: continues from the middle of epoch 3
])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, tiny_data, engine_stubs,
                                                 uninterrupted, checkpoint_every, kill,
                                                 resumed_from):
    full_log, full_state = uninterrupted
    out = str(tmp_path / "run")
    config = augmented(tiny_data, checkpoint_every=checkpoint_every)
    with pytest.raises(Killed):
        train(config, out, callback=kill_at(kill))
    checkpoint = read_training_checkpoint(os.path.join(out, "checkpoints", "last.pth"))
    assert checkpoint["global_step"] == resumed_from
    assert engine_stubs.evaluate_calls == []

    result = train(augmented(tiny_data, checkpoint_every=checkpoint_every), out,
                   resume=os.path.join(out, "checkpoints", "last.pth"))
    log = read_log(out)
    # Every step logged once, the resumed ones with exactly the uninterrupted run's values.
    assert [r["step"] for r in log] == [r["step"] for r in full_log] == list(range(1, 7))
    for mine, theirs in zip(log, full_log):
        assert {k: mine[k] for k in ("loss", "hm", "wh", "off", "lr", "epoch", "iter")} == \
               {k: theirs[k] for k in ("loss", "hm", "wh", "off", "lr", "epoch", "iter")}
    state = result.model.state_dict()
    assert all(torch.equal(state[k], full_state[k]) for k in full_state)


def test_checkpoint_holds_every_state_and_loads_as_a_model_zoo_file(tmp_path, tiny_data,
                                                                    engine_stubs):
    out = tmp_path / "run"
    result = train(tiny_config(tiny_data, epochs=1), str(out))
    checkpoint = read_training_checkpoint(str(out / "checkpoints" / "final.pth"))
    assert set(REQUIRED_KEYS) <= set(checkpoint)
    assert (checkpoint["epoch"], checkpoint["iteration"], checkpoint["global_step"]) == (1, 0, 2)
    assert set(checkpoint["rng"]) >= {"torch", "numpy", "python"}
    assert checkpoint["optimizer"]["state"] and checkpoint["scheduler"]["last_epoch"] == 2
    config = checkpoint["config"]
    assert config["arch"] == "lite" and config["heads"] == {"hm": 3, "wh": 2, "reg": 2}
    assert config["head_conv"] == 64 and config["input_size"] == [64, 64]
    assert config["class_names"] == ["rectangle", "ellipse", "triangle"]
    assert config["cat_ids"] == [1, 2, 3] and config["down_ratio"] == 4
    assert config["normalization"]["channel_order"] == "bgr"
    assert config["train"]["lr"] == 2e-3
    fresh = create_model(config["arch"], config["heads"], config["head_conv"])
    extras = load_original_checkpoint(fresh, str(out / "checkpoints" / "final.pth"))
    assert extras["epoch"] == 1
    assert all(torch.equal(v, result.model.state_dict()[k]) for k, v in fresh.state_dict().items())
    assert sorted(os.listdir(out / "checkpoints")) == ["final.pth", "last.pth"]  # no temporaries


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path, tiny_data, engine_stubs,
                                                          monkeypatch):
    out = tmp_path / "run"
    saves = []
    real_save = torch.save

    def failing_second_save(obj, f):
        saves.append(obj["global_step"])
        if len(saves) == 2:  # after the first epoch's checkpoint, a crash half-way through
            f.write(b"partial")
            raise OSError("disk full")
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", failing_second_save)
    with pytest.raises(OSError, match="disk full"):
        train(tiny_config(tiny_data, epochs=3), str(out))
    assert os.listdir(out / "checkpoints") == ["last.pth"]
    assert read_training_checkpoint(str(out / "checkpoints" / "last.pth"))["global_step"] == 2


def test_non_finite_weights_never_replace_the_last_checkpoint(tmp_path, tiny_data, engine_stubs,
                                                              monkeypatch):
    """A blow-up between two log steps: the checkpoint after it is refused, the last good one
    (end of epoch 1, step 2) stays."""
    built = []
    monkeypatch.setattr(train_module, "create_model",
                        lambda *a, **k: built.append(create_model(*a, **k)) or built[-1])

    def poison(step):
        if step.global_step == 3:
            with torch.no_grad():
                next(built[0].parameters()).fill_(float("nan"))

    out = tmp_path / "run"
    with pytest.raises(FloatingPointError, match="non-finite weights after step 3"):
        train(tiny_config(tiny_data, epochs=2, log_every=100, checkpoint_every=1), str(out),
              callback=poison)
    kept = read_training_checkpoint(str(out / "checkpoints" / "last.pth"))
    assert kept["global_step"] == 2
    assert all(torch.isfinite(v).all() for v in kept["state_dict"].values())


def test_resume_refuses_a_checkpoint_past_the_new_epoch_length(tmp_path, tiny_data,
                                                                engine_stubs):
    out = tmp_path / "run"

    def kill_at_step_2(step):  # after the mid-epoch checkpoint of iteration 1
        if step.global_step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tiny_data, checkpoint_every=1), str(out), callback=kill_at_step_2)
    assert read_training_checkpoint(str(out / "checkpoints" / "last.pth"))["iteration"] == 1
    with pytest.raises(TrainConfigError, match="an epoch now has 1 iterations"):
        train(tiny_config(tiny_data, batch_size=8), str(out),
              resume=str(out / "checkpoints" / "last.pth"))


def test_random_states_round_trip():
    state = rng_state()
    draws = torch.rand(3), np.random.rand(3), random.random()
    set_rng_state(state)
    again = torch.rand(3), np.random.rand(3), random.random()
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1])
    assert draws[2] == again[2]


def test_resume_errors_name_the_file(tmp_path, tiny_data, engine_stubs):
    missing = str(tmp_path / "nothing.pth")
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*nothing.pth"):
        train(tiny_config(tiny_data), str(tmp_path / "a"), resume=missing)
    zoo = tmp_path / "zoo.pth"
    save_checkpoint(zoo, create_model("lite", {"hm": 3, "wh": 2, "reg": 2}), epoch=1)
    with pytest.raises(CheckpointError, match="zoo.pth.* is not a training checkpoint"):
        train(tiny_config(tiny_data), str(tmp_path / "b"), resume=str(zoo))
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read .*garbage.pth"):
        train(tiny_config(tiny_data), str(tmp_path / "c"), resume=str(garbage))


def test_resuming_another_architecture_fails_before_training(tmp_path, tiny_data, engine_stubs):
    out = tmp_path / "run"
    train(tiny_config(tiny_data, epochs=1), str(out))
    with pytest.raises(CheckpointError, match="resume checkpoint does not match"):
        train(tiny_config(tiny_data, epochs=2, arch="res_18"), str(out),
              resume=str(out / "checkpoints" / "last.pth"))
