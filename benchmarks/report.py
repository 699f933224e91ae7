"""Turns a pytest-benchmark JSON file into a Markdown table of medians and speed-up ratios.

    python benchmarks/report.py results.json [--out report.md]

Every group is one case measured side by side in one run; each row's ratio is its median divided
by the fused op's median in the same group (> 1: the fused op is that many times faster).
"""

import argparse
import json
import re
from collections import defaultdict


def load_groups(path):
    with open(path) as f:
        data = json.load(f)
    groups = defaultdict(dict)
    for bench in data["benchmarks"]:
        groups[bench["group"]][bench["extra_info"]["impl"]] = bench["stats"]
    return data["machine_info"], dict(sorted(groups.items(), key=lambda kv: natural_key(kv[0])))


def natural_key(text):
    """Sorts "objects=16" before "objects=128"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def render(machine, groups, reference_impl="fused"):
    gpu = machine.get("gpu") or "none"
    lines = [f"Machine: {machine.get('cpu', {}).get('brand_raw', '?')}, "
             f"{machine.get('torch_threads', '?')} torch threads; GPU: {gpu}; "
             f"torch {machine.get('torch')} (CUDA {machine.get('torch_cuda')})", ""]
    for group, impls in groups.items():
        base = impls.get(reference_impl, {}).get("median")
        lines += [f"### {group}", "", "| impl | median (ms) | IQR (ms) | rounds | time / fused |",
                  "|---|---:|---:|---:|---:|"]
        for impl, stats in sorted(impls.items(), key=lambda kv: kv[1]["median"]):
            ratio = f"{stats['median'] / base:.2f}x" if base else "n/a"
            lines.append(f"| {impl} | {stats['median'] * 1e3:.3f} | {stats['iqr'] * 1e3:.3f} | "
                         f"{stats['rounds']} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--out", help="write the Markdown here instead of printing it")
    args = parser.parse_args()
    text = render(*load_groups(args.json))
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
