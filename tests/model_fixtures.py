"""Small models and target batches for the model, loss and checkpoint tests."""

import torch
from torch import nn

from batches import random_batch
from centernet_fast import ops
from centernet_fast.models import create_model

SMALL_HEADS = {"hm": 3, "wh": 2, "reg": 2}


def small_targets(batch=2, num_classes=3, output_size=(16, 16), max_objs=8, seed=0):
    """``ops.CtdetTargets`` of ``batch`` random images with up to 6 boxes each."""
    g = torch.Generator().manual_seed(seed)
    boxes, labels = random_batch(g, batch, 6, num_classes, *output_size, margin=0.0)
    return ops.ctdet_targets(boxes, labels, num_classes, output_size, max_objs=max_objs)


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Moves every state the initialisation leaves at a constant (DCN offsets and mask, BN
    affine and running statistics, biases) to random values of moderate size, so that a
    test comparing outputs sees all of them."""
    g = torch.Generator().manual_seed(seed)

    def rand(t, lo, hi):
        return torch.rand(t.shape, generator=g) * (hi - lo) + lo

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ops.DCN):
                m.conv_offset_mask.weight.normal_(0, 0.02, generator=g)
                m.conv_offset_mask.bias.copy_(rand(m.conv_offset_mask.bias, -0.5, 0.5))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(rand(m.weight, 0.5, 1.5))
                m.bias.copy_(rand(m.bias, -0.1, 0.1))
                m.running_mean.copy_(rand(m.running_mean, -0.1, 0.1))
                m.running_var.copy_(rand(m.running_var, 0.5, 1.5))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (), generator=g)))
            elif isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.add_(rand(m.bias, -0.1, 0.1))
    return model


def small_model(seed=0, heads=None, head_conv=8, randomize=True):
    """A DLA-34 CenterNet with narrow heads; random non-default state when ``randomize``."""
    torch.manual_seed(seed)
    model = create_model("dla_34", dict(heads or SMALL_HEADS), head_conv=head_conv)
    return randomize_(model, seed) if randomize else model
