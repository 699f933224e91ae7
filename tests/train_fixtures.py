"""Helpers of the training tests: tiny synthetic datasets, small configs, the log reader, and
stand-ins for ``engine.evaluate.evaluate`` and ``engine.predict.predict``.

The stand-ins record their calls and write what the real functions write (metrics.json, one
file per drawn image), so that the training tests check how the loop calls them, not COCO
scoring, which the evaluation tests cover.

``tests/conftest.py`` makes fixtures of them: ``tiny_data``, ``engine_stubs`` and
``torch_one_thread``.
"""

import contextlib
import json
import os

import pytest
import torch

from centernet_fast import data
from centernet_fast.engine import synthetic_job
from centernet_fast.engine import train as train_module
from centernet_fast.engine.config import TrainConfig

METRIC_KEYS = ("AP", "AP50", "AP75", "APs", "APm", "APl")


def write_tiny_dataset(root, num_train=8, num_val=4, objects=(1, 3), seed=0):
    """A 64 x 64 synthetic COCO dataset: {"train": CocoSplit, "val": CocoSplit}."""
    return data.write_synthetic_coco(str(root), num_train, num_val, 64, seed, objects=objects,
                                     min_size=10, max_size=24, image_format="png")


def tiny_config(splits, **overrides) -> TrainConfig:
    """The light model at 64 x 64 on the CPU with 0 workers, every step logged; no augmentation
    randomness besides what ``overrides`` turns on."""
    values = dict(arch="lite", input_size=64, epochs=2, batch_size=4, lr=2e-3, lr_steps=(),
                  device="cpu", num_workers=0, log_every=1, crop="none", flip=0.0, color=False,
                  eval_batch_size=4)
    values.update(overrides)
    return TrainConfig(*splits["train"], *splits["val"], **values)


def read_log(run_dir, event="train"):
    with open(os.path.join(run_dir, "log.jsonl"), encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return [r for r in records if r["event"] == event]


class EngineStubs:
    """Stand-ins for ``engine.evaluate`` and ``engine.predict`` that record their calls."""

    def __init__(self):
        self.evaluate_calls = []
        self.predict_calls = []

    def evaluate(self, model, dataset, *, device, batch_size=8, num_workers=0, flip_test=False,
                 K=100, amp_dtype=None, out_dir=None):
        self.evaluate_calls.append(dict(model=model, dataset=dataset, device=device,
                                        batch_size=batch_size, num_workers=num_workers,
                                        amp_dtype=amp_dtype, out_dir=out_dir,
                                        training=model.training))
        metrics = {key: 0.25 for key in METRIC_KEYS}
        if out_dir is not None:
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
                json.dump(metrics, f)
        return metrics

    def predict(self, model, inputs, *, class_names, device, input_size, threshold=0.3, K=100,
                out_dir):
        self.predict_calls.append(dict(model=model, inputs=list(inputs), class_names=class_names,
                                       device=device, input_size=input_size, out_dir=out_dir))
        os.makedirs(out_dir, exist_ok=True)
        for path in inputs:
            open(os.path.join(out_dir, os.path.basename(path) + ".png"), "wb").close()


def install_stubs(monkeypatch: pytest.MonkeyPatch) -> EngineStubs:
    """Puts a new EngineStubs in place of ``evaluate`` and ``predict`` where the training engine
    calls them (undone with ``monkeypatch``)."""
    stubs = EngineStubs()
    monkeypatch.setattr(train_module, "evaluate", stubs.evaluate)
    monkeypatch.setattr(synthetic_job, "predict", stubs.predict)
    return stubs


@contextlib.contextmanager
def one_torch_thread():
    """Torch on one thread inside the block: the 64 x 64 models' ops are too small to split,
    and on a shared 2-core machine two threads wait on each other up to ten times longer than
    one thread computes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
