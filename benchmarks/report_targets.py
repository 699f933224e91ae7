"""The targets of the op and model issues (targets.json) checked against the runs.

A target names an ``op`` and a ``device``, optionally more ``where`` entries of extra_info, a
``kind`` and a bound (``min`` or ``max``). It is checked ``over``:
    each     (default) every matching group, the ``impl`` (default fused) against ``anchor``;
    summary  every matching per-model sum (bench_deform_conv2d.py's 16 layers);
    best     the best of ``impls`` (default fused, fused_compiled) over all matching groups,
             once per run (e.g. the model latency in whichever precision and mode is fastest).
A missed target says by how much: the factor between the measure and its bound, the share of
time (or memory) that would have to go, the fraction of the floor reached and, where the
benchmark profiled its call, the kernels that take the time.
"""

import json
from pathlib import Path
from typing import NamedTuple

from report_floors import case_floor
from report_tables import percent, profile_text, summary_totals

TARGETS = Path(__file__).with_name("targets.json")


# kind: (value of a context, unit, resource that a miss is short of)
KINDS = {
    "speedup": (lambda c: c["anchor_time"] / c["time"], "x", "time"),
    "slowdown": (lambda c: c["time"] / c["anchor_time"], "x", "time"),
    "floor": (lambda c: c["floor"] / c["time"] if c["floor"] else None, "%", "time"),
    "scratch": (lambda c: c["peak"] / c["anchor_peak"] if c["anchor_peak"] else None, "x",
                "memory"),
    "latency_ms": (lambda c: c["time"] * 1e3, " ms", "time"),
    "throughput": (lambda c: c["images"] / c["time"], " img/s", "time"),
}


def fmt(value, unit, bound=False):
    """A measure (3 significant figures) or a bound (as written in targets.json) with its unit."""
    if unit == "%":
        return f"{value:.0%}"
    return f"{value:g}{unit}" if bound else f"{value:.3g}{unit}"


class Result(NamedTuple):
    target: dict
    run: str
    case: str
    measured: str
    status: str


def load_targets(path=TARGETS):
    with open(path) as f:
        return json.load(f)


def required(target):
    unit = KINDS[target["kind"]][1]
    if "min" in target:
        return f">= {fmt(target['min'], unit, bound=True)}"
    return f"<= {fmt(target['max'], unit, bound=True)}"


def matches(target, info):
    where = {"op": target["op"], "device": target["device"], **target.get("where", {})}
    return all(info.get(k) == v for k, v in where.items())


def verdict(target, ctx):
    """(measured text, status text) of one context."""
    value_of, unit, resource = KINDS[target["kind"]]
    value = value_of(ctx)
    if value is None:
        return "n/a", "not measurable (no floor or anchor in this run)"
    if value >= target.get("min", float("-inf")) and value <= target.get("max", float("inf")):
        return fmt(value, unit), "met"
    factor = target["min"] / value if "min" in target else value / target["max"]
    status = f"**missed by {factor:.2f}x** (needs {1 - 1 / factor:.0%} less {resource})"
    if ctx.get("floor"):
        status += f"; at {percent(ctx['floor'], ctx['time'])} of its floor"
    if ctx.get("top_ops"):
        status += f"; profile: {profile_text(ctx['top_ops'])}"
    return fmt(value, unit), status


def _context(bench, anchor=None, floor=None):
    info, stats = bench["extra_info"], bench["stats"]
    return {"time": stats["median"], "images": info.get("images"),
            "anchor_time": anchor["stats"]["median"] if anchor else None,
            "peak": info.get("transient_peak_bytes"),
            "anchor_peak": anchor["extra_info"].get("transient_peak_bytes") if anchor else None,
            "floor": floor.seconds if floor else None, "top_ops": info.get("top_ops")}


def _summary_contexts(target, run, impl, anchor):
    found = []
    for name, impls in run.summaries.items():
        if impl not in impls or (anchor is not None and anchor not in impls):
            continue
        if matches(target, impls[impl][0]["extra_info"]):
            totals = summary_totals(impls, run.rates)
            # The profile of the layer shape that costs the most, as the miss's likely cause.
            slowest = max(impls[impl],
                          key=lambda b: b["stats"]["median"] * b["extra_info"]["layers"])
            _, time, peak, floor = totals[impl]
            found.append((name, {"time": time, "peak": peak, "floor": floor,
                                 "anchor_time": totals[anchor][1] if anchor else None,
                                 "anchor_peak": totals[anchor][2] if anchor else None,
                                 "top_ops": slowest["extra_info"].get("top_ops")}))
    return found


def contexts(target, run):
    """[(case label, context)] of a target in one run."""
    anchor, over = target.get("anchor"), target.get("over", "each")
    if over == "summary":
        return _summary_contexts(target, run, target.get("impl", "fused"), anchor)
    candidates = (target.get("impls", ["fused", "fused_compiled"]) if over == "best"
                  else [target.get("impl", "fused")])
    found = []
    for group, impls in run.groups.items():
        if anchor is not None and anchor not in impls:
            continue
        for name in candidates:
            bench = impls.get(name)
            if bench is not None and matches(target, bench["extra_info"]):
                label = f"{group} ({name})" if over == "best" else group
                found.append((label, _context(bench, impls.get(anchor),
                                              case_floor(impls, run.rates))))
    if over == "best" and found:
        value_of = KINDS[target["kind"]][0]
        pick = max if "min" in target else min
        found = [pick(found, key=lambda item: value_of(item[1]))]
    return found


def evaluate(targets, runs):
    """[Result] of every target in every run; one "not measured" row for a target no run has."""
    results = []
    for target in targets:
        rows = [Result(target, run.name, case, *verdict(target, ctx))
                for run in runs for case, ctx in contexts(target, run)]
        results += rows or [Result(target, "-", "-", "-", "not measured in these runs")]
    return results


def render_targets(results):
    lines = ["| issue | target | run | case | measured | required | result |",
             "|---:|---|---|---|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.target['issue']} | {r.target['text']} | {r.run} | {r.case} | "
                     f"{r.measured} | {required(r.target)} | {r.status} |")
    return lines + [""]
