"""Turns a pytest-benchmark JSON file into a Markdown table of medians and speed-up ratios.

    python benchmarks/report.py results.json [--out report.md]

Every group is one case measured side by side in one run; each row's ratio is its median divided
by the fused op's median in the same group (> 1: the fused op is that many times faster).
Benchmarks that record ``transient_peak_bytes`` get a peak-scratch column. Benchmarks that record
``summary`` and ``layers`` (one shape standing for that many layers of a model) are also summed per
summary, each median weighted by its layer count, into a table at the top.
"""

import argparse
import json
import re
from collections import defaultdict

MIB = 2.0 ** 20


def load(path):
    """(machine_info, {group: {impl: bench}}, {summary: {impl: [bench, ...]}})."""
    with open(path) as f:
        data = json.load(f)
    groups, summaries = defaultdict(dict), defaultdict(lambda: defaultdict(list))
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        groups[bench["group"]][info["impl"]] = bench
        if "summary" in info:
            summaries[info["summary"]][info["impl"]].append(bench)
    ordered = dict(sorted(groups.items(), key=lambda kv: natural_key(kv[0])))
    return data["machine_info"], ordered, dict(summaries)


def natural_key(text):
    """Sorts "objects=16" before "objects=128"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def ratio(value, base):
    return f"{value / base:.2f}x" if base else "n/a"


def render_summaries(summaries, reference_impl):
    lines = []
    for summary, impls in sorted(summaries.items(), key=lambda kv: natural_key(kv[0])):
        layers = {impl: sum(b["extra_info"]["layers"] for b in benches)
                  for impl, benches in impls.items()}
        total = {impl: sum(b["stats"]["median"] * b["extra_info"]["layers"] for b in benches)
                 for impl, benches in impls.items()}
        peak = {impl: max(b["extra_info"].get("transient_peak_bytes", 0) for b in benches)
                for impl, benches in impls.items()}
        base, base_peak = total.get(reference_impl), peak.get(reference_impl)
        lines += [f"### {summary}", "",
                  "| impl | layers | sum of medians (ms) | time / fused | "
                  "largest peak scratch (MiB) | scratch / fused |",
                  "|---|---:|---:|---:|---:|---:|"]
        for impl in sorted(total, key=total.get):
            lines.append(f"| {impl} | {layers[impl]} | {total[impl] * 1e3:.3f} | "
                         f"{ratio(total[impl], base)} | {peak[impl] / MIB:.1f} | "
                         f"{ratio(peak[impl], base_peak)} |")
        lines.append("")
    return lines


def render_group(group, impls, reference_impl):
    base = impls.get(reference_impl, {}).get("stats", {}).get("median")
    with_memory = any("transient_peak_bytes" in b["extra_info"] for b in impls.values())
    header = "| impl | median (ms) | IQR (ms) | rounds | time / fused |"
    rule = "|---|---:|---:|---:|---:|"
    if with_memory:
        header, rule = header + " peak scratch (MiB) |", rule + "---:|"
    lines = [f"### {group}", "", header, rule]
    for impl, bench in sorted(impls.items(), key=lambda kv: kv[1]["stats"]["median"]):
        stats = bench["stats"]
        row = (f"| {impl} | {stats['median'] * 1e3:.3f} | {stats['iqr'] * 1e3:.3f} | "
               f"{stats['rounds']} | {ratio(stats['median'], base)} |")
        if with_memory:
            row += f" {bench['extra_info'].get('transient_peak_bytes', 0) / MIB:.1f} |"
        lines.append(row)
    return lines + [""]


def render(machine, groups, summaries, reference_impl="fused"):
    gpu = machine.get("gpu") or "none"
    lines = [f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
             f"{machine.get('torch_threads', '?')} torch threads; GPU: {gpu}; "
             f"torch {machine.get('torch')} (CUDA {machine.get('torch_cuda')})", ""]
    lines += render_summaries(summaries, reference_impl)
    for group, impls in groups.items():
        lines += render_group(group, impls, reference_impl)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--out", help="write the Markdown here instead of printing it")
    args = parser.parse_args()
    text = render(*load(args.json))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
