"""Timing helpers shared by every benchmark: one way to time a call on the CPU and on CUDA.

``measure`` is what the benchmarks call. It times ``fn`` with pytest-benchmark's pedantic mode
over argument sets taken in turn (so that no round finds its inputs still in the GPU's L2 or
the CPU's caches from the round before), after warm-up rounds that go through the same
rotation. On the CPU the clock is ``time.perf_counter``; on CUDA it is a pair of CUDA events
around each call (``CudaEventClock``), which times the GPU's own timeline from the moment the
call starts queueing work to the moment its last kernel ends.
"""

import itertools
import time

import torch

EVENT_CLOCK = "cuda_event_clock"


def synchronized(fn, device):
    """Wraps fn so that a call returns after the GPU work it queued (for untimed calls such as
    warm-up, memory and profile measurements)."""
    if device != "cuda":
        return fn

    def run(*args, **kwargs):
        out = fn(*args, **kwargs)
        torch.cuda.synchronize()
        return out

    return run


class CudaEventClock:
    """A clock for pytest-benchmark whose differences are CUDA event intervals, in seconds.

    Each reading records an event on the current stream and waits for it. The reading is the
    running sum of the intervals between consecutive events, kept in a Python float: an event
    interval is exact to the event resolution (about 0.5 us), whereas one origin event for a
    whole run would make every reading a float32 of milliseconds that loses microseconds after
    a few minutes.
    """

    def __init__(self):
        self.__name__ = EVENT_CLOCK  # pytest-benchmark stores its timer by name in the JSON
        self._last = None
        self._seconds = 0.0

    def __call__(self) -> float:
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        event.synchronize()
        if self._last is not None:
            self._seconds += self._last.elapsed_time(event) / 1e3
        self._last = event
        return self._seconds


def use_device_clock(benchmark, device) -> str:
    """Makes ``benchmark`` time with CUDA events on CUDA; returns the name of the timer used.

    pytest-benchmark has no public per-benchmark timer, so this sets its fixture's ``_timer``.
    Where a version of pytest-benchmark lacks that attribute, it falls back to perf_counter
    around a synchronising call (``measure`` then synchronises inside the timed call).
    """
    if device == "cuda" and hasattr(benchmark, "_timer"):
        benchmark._timer = CudaEventClock()
        return EVENT_CLOCK
    return "perf_counter" if device != "cuda" else "perf_counter+synchronize"


def rotation(arg_sets):
    """A pytest-benchmark ``setup`` that hands out the argument tuples in turn."""
    cycle = itertools.cycle(list(arg_sets))

    def setup():
        return next(cycle), {}

    return setup


def measure(benchmark, fn, arg_sets, device, rounds, warmup_rounds):
    """Times ``fn(*args)`` over ``rounds`` rounds, ``args`` rotating through ``arg_sets``, after
    ``warmup_rounds`` rotated warm-up rounds; records the timer in ``extra_info["timer"]``."""
    timer = use_device_clock(benchmark, device)
    if timer == "perf_counter+synchronize":
        fn = synchronized(fn, device)
    benchmark.extra_info["timer"] = timer
    return benchmark.pedantic(fn, setup=rotation(arg_sets), rounds=rounds,
                              warmup_rounds=warmup_rounds)


def wall_seconds(fn, *args, device="cpu"):
    """Seconds of one synchronised call (for one-off costs such as compiling)."""
    start = time.perf_counter()
    synchronized(fn, device)(*args)
    return time.perf_counter() - start
