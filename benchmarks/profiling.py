"""Where a call spends its time: the few kernels (CUDA) or operators (CPU) with the largest self
time in one profiled call, recorded next to the timings so that the report can say what a missed
target is made of."""

from torch.profiler import ProfilerActivity, profile

from timing import synchronized


def top_ops(fn, args, device, n=3):
    """[[name, share of the call's self time], ...] for the ``n`` largest entries of one call.

    On CUDA the entries are GPU kernels (self device time); on the CPU, operators (self CPU
    time, so that a kernel is not counted again in the operators that call it). Names are cut
    to 80 characters: templated kernel names run to hundreds.
    """
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=activities) as prof:
        synchronized(fn, device)(*args)

    def self_time(event):
        return event.self_device_time_total if device == "cuda" else event.self_cpu_time_total

    events = [e for e in prof.key_averages() if self_time(e) > 0]
    total = sum(self_time(e) for e in events)
    events.sort(key=self_time, reverse=True)
    return [[e.key[:80], round(self_time(e) / total, 3)] for e in events[:n]]
