"""The CUDA kernels executed on the CPU (csrc/cuda_emu): loading the emulation library and running
a call under several schedules.

The library (``libcenternet_fast_cuda_emu.so``, built by CMake with -DCENTERNET_FAST_CUDA_EMU=ON;
scripts/test_cuda_emu.sh builds it and runs these tests) registers the CUDA registrations of
every op as ``torch.ops.centernet_fast_cuda_emu.<op>``, running the real kernels on CPU tensors.
The tests that use it are collected only when CENTERNET_FAST_CUDA_EMU_LIB names it, and then a
library that does not load fails them.
"""

import os
from contextlib import contextmanager

import torch

LIB_ENV = "CENTERNET_FAST_CUDA_EMU_LIB"

# (order, seed, poison byte): the order of blocks and of threads between synchronisation points,
# and the initial contents of shared memory. A kernel whose result depends on either has a race
# or reads shared memory before writing it.
SCHEDULES = [("forward", 0, 0xA5), ("reverse", 0, 0x00), ("random", 1, 0xFF),
             ("random", 2, 0x5A)]


def load_emulation():
    """``torch.ops.centernet_fast_cuda_emu``, loading the library named by $CENTERNET_FAST_CUDA_EMU_LIB."""
    path = os.environ.get(LIB_ENV)
    if not path:
        raise RuntimeError(f"{LIB_ENV} is not set: build the emulation with scripts/test_cuda_emu.sh")
    if not os.path.isfile(path):
        raise RuntimeError(f"{LIB_ENV}={path} does not exist")
    import centernet_fast  # noqa: F401  (the real ops first: the emulation sits beside them)

    torch.ops.load_library(path)
    return torch.ops.centernet_fast_cuda_emu


@contextmanager
def schedule(order, seed, poison):
    """Runs emulated launches inside the block with the given schedule."""
    names = ("CNF_EMU_ORDER", "CNF_EMU_SEED", "CNF_EMU_POISON")
    saved = {n: os.environ.get(n) for n in names}
    os.environ.update(CNF_EMU_ORDER=order, CNF_EMU_SEED=str(seed), CNF_EMU_POISON=str(poison))
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def bits(t):
    """The tensor's raw bits as integers (so NaNs and signed zeros compare exactly)."""
    if not t.is_floating_point():
        return t
    return t.contiguous().view({8: torch.int64, 4: torch.int32, 2: torch.int16}[t.element_size()])


def assert_same_bits(got, expected, what=""):
    """got and expected (tensors or nested tuples of them) are equal bit for bit."""
    if isinstance(expected, (tuple, list)):
        assert len(got) == len(expected), what
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same_bits(g, e, f"{what}[{i}]")
        return
    assert got.dtype == expected.dtype and got.shape == expected.shape, (
        f"{what}: {got.dtype}{tuple(got.shape)} vs {expected.dtype}{tuple(expected.shape)}")
    differ = bits(got) != bits(expected)
    assert not differ.any(), (
        f"{what}: {int(differ.sum())} of {differ.numel()} elements differ, first at "
        f"{tuple(differ.nonzero()[0].tolist())}")


def across_schedules(fn, *args, schedules=SCHEDULES, **kwargs):
    """fn(*args, **kwargs) under each schedule; asserts the results are bit-identical (the CUDA
    kernels claim determinism) and returns the first."""
    first = None
    for s in schedules:
        with schedule(*s):
            result = fn(*args, **kwargs)
        if first is None:
            first = result
        else:
            assert_same_bits(result, first, f"schedule {s} vs {schedules[0]}")
    return first
