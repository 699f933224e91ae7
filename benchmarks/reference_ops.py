"""The model anchor: the same network, loss and decode built from the plain-PyTorch reference ops.

The original CenterNet cannot run on current PyTorch (its DCNv2 extension no longer builds), so
the end-to-end benchmark stands it in by the executable specification of every fused op the
model uses. ``reference_ops()`` swaps them where they are looked up at call time and counts the
calls, so that a benchmark can assert that the swap reached every call site.

The call sites (read from the code; a rename there makes the count assertion fail):
    centernet_fast.ops.dcn.deform_conv2d   the DCN and ModulatedDeformConv2d layers' forward
    centernet_fast.ops.focal_loss          CenterNetLoss (calls ``ops.focal_loss``)
    centernet_fast.ops.ctdet_decode        the benchmark's decode (calls ``ops.ctdet_decode``)
The training targets stay on the fused ``ctdet_targets`` for both sides: the original draws them
in data-loader workers, off the training step, and bench_ctdet_targets.py times that op alone.
The reference deform_conv2d has no autocast rule and rejects the mixed dtypes autocast hands it
(bfloat16 features, float32 weights); the swap gives it the fused op's rule
(csrc/deform_conv_autocast.cpp): every floating-point tensor argument but float64 ones cast to
the autocast dtype, the op run with autocast off.
"""

import contextlib
from collections import Counter

import torch

import centernet_fast.ops
import centernet_fast.ops.dcn
from centernet_fast.ops import reference


def _autocast_rule(fn):
    """``fn`` under the fused deform_conv2d's autocast rule (see the module docstring)."""

    def run(*args, **kwargs):
        device = args[0].device.type
        if not torch.is_autocast_enabled(device):
            return fn(*args, **kwargs)
        dtype = torch.get_autocast_dtype(device)

        def cast(a):
            if isinstance(a, torch.Tensor) and a.is_floating_point() and a.dtype != torch.float64:
                return a.to(dtype)
            return a

        with torch.autocast(device, enabled=False):
            return fn(*map(cast, args), **{k: cast(v) for k, v in kwargs.items()})

    return run


SWAPS = (
    (centernet_fast.ops.dcn, "deform_conv2d", _autocast_rule(reference.deform_conv2d)),
    (centernet_fast.ops, "focal_loss", reference.focal_loss),
    (centernet_fast.ops, "ctdet_decode", reference.ctdet_decode),
)


def _counting(name, fn, calls):
    def run(*args, **kwargs):
        calls[name] += 1
        return fn(*args, **kwargs)

    return run


@contextlib.contextmanager
def reference_ops():
    """Within the block the model, the loss and ``ops.ctdet_decode`` run on the reference ops.
    Yields a Counter of calls per swapped name (``deform_conv2d``, ``focal_loss``,
    ``ctdet_decode``); the fused functions are back in place on leaving."""
    calls = Counter()
    saved = [(module, name, getattr(module, name)) for module, name, _ in SWAPS]
    try:
        for module, name, replacement in SWAPS:
            setattr(module, name, _counting(name, replacement, calls))
        yield calls
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)
