"""One run of the suite as the report reads it: a pytest-benchmark JSON file grouped by case."""

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import NamedTuple

from report_floors import machine_rates


class Run(NamedTuple):
    name: str  # the JSON file's stem, e.g. "focal_loss-cpu-2core"
    machine: dict  # pytest-benchmark's machine_info (see conftest.py)
    groups: dict  # {group: {impl: bench}}
    summaries: dict  # {summary: {impl: [bench, ...]}}
    rates: dict  # {device: report_floors.Rates}, from the run's "machine" group


def natural_key(text):
    """Sorts "objects=16" before "objects=128"."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def load(path):
    """(machine_info, {group: {impl: bench}}, {summary: {impl: [bench, ...]}}) of one JSON."""
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


def load_run(path) -> Run:
    machine, groups, summaries = load(path)
    return Run(Path(path).stem, machine, groups, summaries, machine_rates(groups))
