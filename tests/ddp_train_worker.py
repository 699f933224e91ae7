"""A training run for test_engine_ddp: started twice by the test, once by ``torchrun
--nproc_per_node 2`` (gloo DDP on the CPU) and once as a plain single process, with the same
global batch.

    python ddp_train_worker.py DATASET_DIR OUT_DIR

The model is a small conv net without batch norm (registered here as ``tiny_nobn``): batch norm
normalises over each process's own shard in DDP (and PyTorch's SyncBatchNorm runs on CUDA
only), which would make the two runs differ by design rather than by a bug.
"""

import sys

import pytest
from torch import nn

from centernet_fast import data
from centernet_fast.engine.train import train
from centernet_fast.models import ARCHITECTURES
from centernet_fast.models.factory import Architecture
from centernet_fast.models.heads import apply_heads, init_head, make_head
from train_fixtures import install_stubs, tiny_config


class TinyNoBatchNorm(nn.Module):
    """Three convs to stride 4, then the CenterNet heads."""

    size_divisibility = 4

    def __init__(self, heads, head_conv, pretrained_backbone=None):
        super().__init__()
        self.heads = dict(heads)
        self.body = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                                  nn.Conv2d(32, 32, 3, 1, 1), nn.ReLU())
        for name, channels in self.heads.items():
            head = make_head(32, head_conv, channels)
            init_head(name, head, regression_init="zero_bias")
            setattr(self, name, head)

    def forward(self, x):
        return [apply_heads(self, self.heads, self.body(x))]


def main(dataset_dir: str, out_dir: str) -> None:
    ARCHITECTURES["tiny_nobn"] = Architecture(TinyNoBatchNorm, 16, TinyNoBatchNorm.size_divisibility)
    install_stubs(pytest.MonkeyPatch())
    splits = {split: data.CocoSplit(f"{dataset_dir}/{split}",
                                    f"{dataset_dir}/annotations/instances_{split}.json")
              for split in ("train", "val")}
    # No flips or crops: every image keeps its two objects, so every shard of the global batch
    # normalises its loss by the same number of objects (see engine.train's docstring).
    train(tiny_config(splits, arch="tiny_nobn", epochs=2, batch_size=4, crop="none", flip=0.0,
                      color=True), out_dir)


if __name__ == "__main__":
    main(*sys.argv[1:])
