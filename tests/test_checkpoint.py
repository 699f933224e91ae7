"""Original model-zoo checkpoints: round trip through the original format (``module.`` prefix,
unused ``base.fc``), atomic saving, and all-or-nothing loading with clear errors."""

import os

import pytest
import torch
from torch import nn

from centernet_fast.models import CheckpointError, load_original_checkpoint, save_checkpoint
from model_fixtures import small_model


def zoo_checkpoint(model, epoch=70):
    """A checkpoint as the original trainer writes it under DataParallel, including the
    ImageNet classifier every DLA checkpoint carries."""
    state = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    state["module.base.fc.weight"] = torch.randn(1000, 512, 1, 1)
    state["module.base.fc.bias"] = torch.randn(1000)
    return {"epoch": epoch, "state_dict": state}


def outputs(model, seed=0):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.eval()(x)[0]


def assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_through_a_zoo_file(tmp_path):
    trained, fresh = small_model(seed=1), small_model(seed=2)
    path = tmp_path / "model_last.pth"
    torch.save(zoo_checkpoint(trained), path)
    assert load_original_checkpoint(fresh, path) == {"epoch": 70}
    assert_same_state(fresh, trained)
    expected, got = outputs(trained), outputs(fresh)
    assert all(torch.equal(got[k], expected[k]) for k in expected)


def test_bare_state_dict_and_wrapped_models():
    trained = small_model(seed=1)
    fresh = small_model(seed=2)
    assert load_original_checkpoint(fresh, trained.state_dict()) == {}
    assert_same_state(fresh, trained)
    wrapped = nn.DataParallel(small_model(seed=3))  # keys of .module, no prefix
    load_original_checkpoint(wrapped, zoo_checkpoint(trained))
    assert_same_state(wrapped.module, trained)


def test_checkpoints_older_than_num_batches_tracked_load():
    trained, fresh = small_model(seed=1), small_model(seed=2)
    state = {k: v for k, v in trained.state_dict().items() if "num_batches_tracked" not in k}
    load_original_checkpoint(fresh, state)
    for k, v in fresh.state_dict().items():
        if "num_batches_tracked" not in k:
            assert torch.equal(v, state[k]), k


def test_save_checkpoint_is_atomic_and_in_the_original_format(tmp_path):
    model, optimizer = small_model(seed=4), None
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    path = tmp_path / "model_best.pth"
    path.write_bytes(b"an older checkpoint")
    save_checkpoint(path, nn.DataParallel(model), epoch=3, optimizer=optimizer)
    assert os.listdir(tmp_path) == ["model_best.pth"]  # no temporary file left behind
    (tmp_path / "plain").touch()
    assert os.stat(path).st_mode == os.stat(tmp_path / "plain").st_mode  # umask, not 0600
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 3 and set(checkpoint) == {"epoch", "state_dict", "optimizer"}
    assert list(checkpoint["state_dict"]) == list(model.state_dict())
    fresh = small_model(seed=5)
    extras = load_original_checkpoint(fresh, path)
    assert extras["epoch"] == 3 and "optimizer" in extras
    assert_same_state(fresh, model)


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    path.write_bytes(b"old")

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, small_model(randomize=False))
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.pth"]


def edited(model, drop=(), add=None, replace=None):
    state = zoo_checkpoint(model)
    sd = state["state_dict"]
    for k in drop:
        del sd[f"module.{k}"]
    sd.update({f"module.{k}": v for k, v in (add or {}).items()})
    sd.update({f"module.{k}": v for k, v in (replace or {}).items()})
    return state


@pytest.mark.parametrize("edit, message", [
    (dict(drop=["hm.2.bias", "dla_up.ida_0.up_1.weight"]),
     r"2 missing keys: dla_up\.ida_0\.up_1\.weight, hm\.2\.bias"),
    (dict(add={"hps.0.weight": torch.zeros(8, 64, 3, 3)}), r"1 unexpected keys: hps\.0\.weight"),
    (dict(replace={"hm.2.weight": torch.zeros(80, 8, 1, 1), "hm.2.bias": torch.zeros(80)}),
     r"2 shape mismatches: hm\.2\.weight: checkpoint \[80, 8, 1, 1\], model \[3, 8, 1, 1\], "
     r"hm\.2\.bias: checkpoint \[80\], model \[3\]"),
])
def test_a_checkpoint_that_does_not_fit_raises_and_loads_nothing(edit, message):
    source, target = small_model(seed=1), small_model(seed=2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"CenterNet checkpoint does not match the "
                                              r"CenterNetDLA model \(nothing was loaded\); "
                                              + message):
        load_original_checkpoint(target, edited(source, **edit))
    assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items())


def test_not_a_state_dict():
    model = small_model(randomize=False)
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        load_original_checkpoint(model, {"state_dict": [1, 2]})
    with pytest.raises(CheckpointError, match=r"str keys to tensors; offending keys: 'epoch'"):
        load_original_checkpoint(model, {"epoch": 3, "hm.0.weight": torch.zeros(1)})
