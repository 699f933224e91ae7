"""The end-to-end workloads of bench_models.py: a CenterNet model with random but trained-like
state, its inputs, and the three timed calls (forward + decode, and a training step).

Every input is random (never zeros) and built from fixed seeds, so that every implementation of
a case sees the same tensors; ``ROTATION`` sets of them are handed out in turn.
"""

from contextlib import nullcontext
from typing import NamedTuple

import torch

from centernet_fast import ops
from centernet_fast.models import CenterNetLoss, create_model

HEADS = {"hm": 80, "wh": 2, "reg": 2}
OBJECTS = 16  # boxes per training image (COCO averages about 7; crowded scenes many more)
ROTATION = 3


class Case(NamedTuple):
    arch: str
    task: str  # "latency" (batch 1) or "inference" (forward + decode), or "training" (a step)
    device: str
    precision: str  # "float32" or "bf16-channels_last"
    batch: int
    size: int


def autocast(case):
    """bfloat16 autocast for the mixed-precision cases (the model, loss and decode inside it)."""
    if case.precision == "float32":
        return nullcontext()
    return torch.autocast(case.device, dtype=torch.bfloat16)


def memory_format(case):
    if case.precision.endswith("channels_last"):
        return torch.channels_last
    return torch.contiguous_format


def build_model(case):
    """``create_model(arch, HEADS)`` from seed 0, its DCN offsets and masks moved off the
    zero initialisation, on the case's device and memory format."""
    torch.manual_seed(0)
    model = create_model(case.arch, HEADS)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, ops.DCN):
                # Offsets of about a pixel with fractional parts that vary by pixel, as a trained
                # network's: zero offsets would sample whole pixels and flatter the kernels.
                conv = m.conv_offset_mask
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.01)
                conv.bias.copy_(torch.rand(conv.bias.shape, generator=g) * 3 - 1.5)
    return model.to(case.device, memory_format=memory_format(case))


def image_sets(case):
    """``ROTATION`` random image batches [B, 3, size, size] (unit normal: normalised images)."""
    sets = []
    for seed in range(ROTATION):
        g = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(case.batch, 3, case.size, case.size, generator=g)
        sets.append(x.to(case.device, memory_format=memory_format(case)))
    return sets


def box_sets(case):
    """``ROTATION`` (boxes [B, OBJECTS, 4], labels [B, OBJECTS]) in output-map units: centres
    anywhere, sides from 2 pixels to half the map."""
    out = case.size // 4
    sets = []
    for seed in range(ROTATION):
        g = torch.Generator().manual_seed(200 + seed)
        centre = torch.rand(case.batch, OBJECTS, 2, generator=g) * out
        half = (2 + torch.rand(case.batch, OBJECTS, 2, generator=g) * (out / 2 - 2)) / 2
        labels = torch.randint(0, HEADS["hm"], (case.batch, OBJECTS), generator=g)
        boxes = torch.cat([centre - half, centre + half], dim=-1)
        sets.append((boxes.to(case.device), labels.to(case.device)))
    return sets


def forward_decode(model, case):
    """``fn(images) -> [B, 100, 6]`` detections: the model in eval mode, no autograd, then
    ``ops.ctdet_decode(logits=True)`` on the last stack (looked up at call time, so that the
    reference swap reaches it)."""
    model.eval()

    def fn(images):
        with torch.no_grad(), autocast(case):
            out = model(images)[-1]
            return ops.ctdet_decode(out["hm"], out["wh"], out["reg"], logits=True)

    return fn


def training_step(model, case, compile_loss=None):
    """``fn(images, boxes, labels) -> loss``: targets by ``ops.ctdet_targets`` on the device,
    forward and ``CenterNetLoss`` (under autocast for bf16), backward, an Adam step.
    ``compile_loss`` wraps the forward + loss (e.g. ``torch.compile``); the targets and the
    optimiser step stay eager, as a training loop runs them."""
    model.train()
    loss_fn = CenterNetLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def loss_of(images, targets):
        with autocast(case):
            return loss_fn(model(images), targets)[0]

    loss_call = compile_loss(loss_of) if compile_loss else loss_of

    def fn(images, boxes, labels):
        size = (images.shape[-2] // 4, images.shape[-1] // 4)
        targets = ops.ctdet_targets(boxes, labels, HEADS["hm"], size)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_call(images, targets)
        loss.backward()
        optimizer.step()
        return loss

    return fn


def workload(case, compile_fn=None):
    """(fn, argument sets, expected reference-op calls per fn call) of a case."""
    model = build_model(case)
    dcn_layers = sum(isinstance(m, ops.DCN) for m in model.modules())
    images = image_sets(case)
    if case.task == "training":
        fn = training_step(model, case, compile_fn)
        arg_sets = [(x, *boxes) for x, boxes in zip(images, box_sets(case))]
        expected = {"deform_conv2d": dcn_layers, "focal_loss": 1}
    else:
        fn = forward_decode(model, case)
        fn = compile_fn(fn) if compile_fn else fn
        arg_sets = [(x,) for x in images]
        expected = {"deform_conv2d": dcn_layers, "ctdet_decode": 1}
    return fn, arg_sets, expected
