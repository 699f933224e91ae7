"""Peak memory of one call, on the CPU (profiler allocation events) or CUDA (allocator stats).

``transient_peak_bytes`` is what the issue calls scratch: the highest memory held during the call
above what was held before it, minus what the call still holds when it returns (its outputs and
gradients, the same for every implementation of an op). So it counts im2col/column buffers,
sampling tables and temporaries, not results.
"""

import json
import os
import tempfile

import torch
from torch.profiler import ProfilerActivity, profile


def _cpu_allocation_trace(fn, args):
    """(peak, final) bytes allocated on the CPU during ``fn(*args)``, relative to its start."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn(*args)
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    finally:
        os.remove(path)
    totals = [e["args"]["Total Allocated"] for e in events
              if e.get("name") == "[memory]" and e["args"].get("Device Type") == 0]
    del result
    return (max(totals), totals[-1]) if totals else (0, 0)


def _cuda_allocation_trace(fn, args):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    result = fn(*args)
    torch.cuda.synchronize()
    peak, final = torch.cuda.max_memory_allocated() - base, torch.cuda.memory_allocated() - base
    del result
    return peak, final


def transient_peak_bytes(fn, args, device: str) -> int:
    """Peak bytes allocated during ``fn(*args)`` beyond what was held before the call and what
    the call leaves allocated (its results); see the module docstring."""
    trace = _cuda_allocation_trace if device == "cuda" else _cpu_allocation_trace
    peak, final = trace(fn, args)
    return max(peak - final, 0)
