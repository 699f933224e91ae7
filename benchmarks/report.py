"""Turns pytest-benchmark JSON runs into Markdown: one run's tables, or benchmarks/README.md.

    python benchmarks/report.py RUN.json [--out RUN.md]
    python benchmarks/report.py benchmarks/results/*.json --readme benchmarks/README.md

Every group is one case measured side by side in one run; each row's ratio is its median divided
by the fused op's median in the same group (> 1: the fused op is that many times faster). Rows
show img/s, the fraction of the case's floor and the peak scratch where the benchmarks record
what these need (report_tables.py). Benchmarks that record ``summary`` and ``layers`` are also
summed per summary, each median weighted by its layer count. The targets of the op and model
issues (targets.json) are checked and a miss says by how much (report_targets.py).
``--readme`` writes the README of all the runs given, with one PNG chart per op family in
``charts/`` next to it (report_readme.py, report_charts.py).
"""

import argparse
from pathlib import Path

from report_data import Run, load, load_run
from report_floors import machine_rates, si
from report_tables import render_group, render_summaries
from report_targets import evaluate, load_targets, render_targets

MACHINE = "machine"


def machine_line(machine):
    gpu = machine.get("gpu") or "none"
    return (f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
            f"{machine.get('torch_threads', '?')} torch threads; GPU: {gpu}; "
            f"torch {machine.get('torch')} (CUDA {machine.get('torch_cuda')})")


def rates_text(rates):
    """"cuda: copy 3.02 TB/s, matmul float32 51.2 TFLOP/s" per device, or "" without any."""
    parts = []
    for device, rate in sorted(rates.items()):
        items = [f"copy {si(rate.bandwidth, 'B/s')}"] if rate.bandwidth else []
        items += [f"matmul {dtype} {si(v, 'FLOP/s')}" for dtype, v in sorted(rate.flops.items())]
        parts.append(f"{device}: " + ", ".join(items))
    return "; ".join(parts)


def is_machine(impls):
    return any(b["extra_info"].get("op") == MACHINE for b in impls.values())


def render_run(run, targets=True):
    """The tables of one run (its machine rates, targets, per-model sums and groups)."""
    lines = []
    if run.rates:
        lines += [f"Measured in this run: {rates_text(run.rates)}.", ""]
    if targets:
        results = [r for r in evaluate(load_targets(), [run]) if r.run == run.name]
        if results:
            lines += ["Targets:", "", *render_targets(results)]
    lines += render_summaries(run.summaries, run.rates)
    for group, impls in run.groups.items():
        if not is_machine(impls):
            lines += render_group(group, impls, run.rates)
    return lines


def render(machine, groups, summaries):
    """One run as Markdown (the ``--out`` report committed next to its JSON)."""
    run = Run("this run", machine, groups, summaries, machine_rates(groups))
    return "\n".join([machine_line(machine), "", *render_run(run)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="pytest-benchmark --benchmark-json output(s)")
    parser.add_argument("--out", help="write one run's Markdown here instead of printing it")
    parser.add_argument("--readme", help="write the README of all the runs given here")
    args = parser.parse_args()
    if args.readme:
        from report_readme import write_readme
        write_readme([load_run(p) for p in args.json], Path(args.readme))
        return
    if len(args.json) != 1:
        parser.error("--out and printing take one JSON file; --readme takes several")
    text = render(*load(args.json[0]))
    if args.out:
        Path(args.out).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
