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
    # PYTHONFAULTHANDLER: a rank killed by a signal (an abort in native code) prints the Python
    # stack of each of its threads, so that a failure says where the rank was.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(TESTS), TESTS, os.environ.get("PYTHONPATH", "")]), OMP_NUM_THREADS="1",
        PYTHONFAULTHANDLER="1")
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-12000:]
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


def _main_process_failure(rank, init_file, results):
    """One of two gloo processes: rank 0's work fails; each rank records what it raised."""
    import torch.distributed as dist

    from centernet_fast.engine.distributed import DistInfo, on_main_process
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    info = DistInfo(rank, 2, rank, torch.device("cpu"))

    def work():
        raise OSError("disk full")

    try:
        on_main_process(info, work, "writing last.pth")
        outcome = "returned"
    except Exception as e:  # the outcome is what the test checks
        outcome = f"{type(e).__name__}: {e}"
    with open(os.path.join(results, f"rank{rank}.txt"), "w") as f:
        f.write(outcome)
    dist.destroy_process_group()


def test_a_failure_on_the_main_process_raises_on_every_rank(tmp_path):
    """No rank is left waiting in a collective for a rank 0 that failed."""
    torch.multiprocessing.spawn(_main_process_failure, args=(str(tmp_path / "init"),
                                                             str(tmp_path)), nprocs=2)
    assert (tmp_path / "rank0.txt").read_text() == "OSError: disk full"
    assert (tmp_path / "rank1.txt").read_text().startswith(
        "MainProcessError: writing last.pth failed on the main process (rank 0)")
