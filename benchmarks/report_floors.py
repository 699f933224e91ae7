"""The report's floor model: the machine's rates from the ``machine`` group of a run
(bench_machine.py) and each case's floor time from its declared bytes and FLOPs (floors.py).

floor = max(floor_bytes / copy bandwidth, floor_flops / matmul rate in floor_dtype): the case
cannot finish before its data has moved, nor before its arithmetic is done.
"""

from typing import Dict, NamedTuple, Optional


class Rates(NamedTuple):
    bandwidth: Optional[float]  # bytes / s
    flops: Dict[str, float]  # dtype -> FLOP / s


class Floor(NamedTuple):
    seconds: float
    bound: str  # "memory" or "compute"
    detail: str  # e.g. "503.3 MB at 3.21 TB/s"


def machine_rates(groups) -> Dict[str, Rates]:
    """{device: Rates} from the run's ``op == "machine"`` benchmarks (empty when it has none)."""
    bandwidth, flops = {}, {}
    for impls in groups.values():
        for bench in impls.values():
            info, median = bench["extra_info"], bench["stats"]["median"]
            if info.get("op") != "machine" or not median:
                continue
            if "bytes" in info:
                bandwidth[info["device"]] = info["bytes"] / median
            if "flops" in info:
                flops.setdefault(info["device"], {})[info["dtype"]] = info["flops"] / median
    return {d: Rates(bandwidth.get(d), flops.get(d, {})) for d in set(bandwidth) | set(flops)}


def si(value, unit):
    """3 significant figures with an SI prefix: si(3.2e12, "B/s") -> "3.20 TB/s"."""
    for prefix, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def floor_of(info, rates: Dict[str, Rates]) -> Optional[Floor]:
    """The floor of one benchmark from its extra_info, or None without declared amounts or
    without the matching machine rate in the same run."""
    rate = rates.get(info.get("device"))
    if rate is None:
        return None
    candidates = []
    if "floor_bytes" in info and rate.bandwidth:
        amount = info["floor_bytes"]
        candidates.append(Floor(amount / rate.bandwidth, "memory",
                                f"{si(amount, 'B')} at {si(rate.bandwidth, 'B/s')}"))
    dtype = info.get("floor_dtype", "float32")
    if "floor_flops" in info and rate.flops.get(dtype):
        amount = info["floor_flops"]
        candidates.append(Floor(amount / rate.flops[dtype], "compute",
                                f"{si(amount, 'FLOP')} at {si(rate.flops[dtype], 'FLOP/s')} "
                                f"{dtype}"))
    return max(candidates, key=lambda f: f.seconds) if candidates else None


def case_floor(impls, rates) -> Optional[Floor]:
    """The floor of a group: every implementation of a case shares it; taken from the fused
    benchmark where it declares one."""
    ordered = sorted(impls.items(), key=lambda kv: kv[0] != "fused")
    for _, bench in ordered:
        floor = floor_of(bench["extra_info"], rates)
        if floor is not None:
            return floor
    return None
