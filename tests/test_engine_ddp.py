"""engine.train under ``torchrun --nproc_per_node 2`` (gloo on the CPU) against one process with
the same global batch (see ddp_train_worker.py for the set-up and why its model has no batch
norm)."""

import json
import os
import subprocess
import sys

import pytest
import torch

from centernet_fast import data
from train_fixtures import read_log, write_tiny_dataset

TESTS = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(TESTS, "ddp_train_worker.py")


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(TESTS), TESTS, os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1")
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_two_process_ddp_matches_one_process(tmp_path):
    root = tmp_path / "data"
    splits = write_tiny_dataset(root, num_train=8, objects=(2, 2), seed=3)
    # The precondition of equal losses: two objects with distinct centre cells in every image.
    dataset = data.CocoDetection(*splits["train"], input_size=64)
    for i in range(len(dataset)):
        targets = data.batch_targets(data.collate_detections([dataset[i]]), 3)
        assert int(targets.reg_mask.sum()) == 2 and int(targets.hm.eq(1).sum()) == 2, i

    run([sys.executable, WORKER, str(root), str(tmp_path / "single")], tmp_path)
    run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2", WORKER, str(root), str(tmp_path / "ddp")], tmp_path)

    single, ddp = read_log(tmp_path / "single"), read_log(tmp_path / "ddp")
    assert [r["step"] for r in ddp] == [r["step"] for r in single] == [1, 2, 3, 4]
    for a, b in zip(single, ddp):
        for key in ("loss", "hm", "wh", "off"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), (a, b)
    assert len({r["loss"] for r in single}) == 4  # the steps differ: the comparison means something
    assert json.loads((tmp_path / "ddp" / "config.json").read_text())["world_size"] == 2
    weights = [torch.load(tmp_path / run_dir / "checkpoints" / "final.pth",
                          weights_only=True)["state_dict"] for run_dir in ("single", "ddp")]
    for key, value in weights[0].items():
        torch.testing.assert_close(weights[1][key], value, rtol=1e-3, atol=1e-5)
