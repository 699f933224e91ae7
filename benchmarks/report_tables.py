"""Markdown tables of one run: a group (one case, its implementations side by side) and the
per-model sums of benchmarks that stand for several layers (``summary`` + ``layers``).

Ratios are each row's time divided by the fused op's time in the same group (> 1: the fused op
is that many times faster). Optional columns appear where the benchmarks record what they need:
img/s (``images``), fraction of the floor (``floor_bytes``/``floor_flops`` and the run's machine
rates), peak scratch (``transient_peak_bytes``).
"""

from report_data import natural_key
from report_floors import case_floor, floor_of

MIB = 2.0 ** 20
FUSED = "fused"


def ratio(value, base):
    return f"{value / base:.2f}x" if base else "n/a"


def percent(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def profile_text(top):
    """"kernel A 47%, kernel B 20%" from a benchmark's ``top_ops``."""
    return ", ".join(f"`{name}` {share:.0%}" for name, share in top)


def render_group(group, impls, rates=None, heading="###"):
    rates = rates or {}
    base = impls.get(FUSED, {}).get("stats", {}).get("median")
    infos = [b["extra_info"] for b in impls.values()]
    floor = case_floor(impls, rates)
    columns = [("impl", "---"), ("median (ms)", "---:"), ("IQR (ms)", "---:"),
               ("rounds", "---:"), ("time / fused", "---:")]
    with_images = any("images" in i for i in infos)
    with_memory = any("transient_peak_bytes" in i for i in infos)
    columns += [("img/s", "---:")] * with_images + [("of floor", "---:")] * (floor is not None)
    columns += [("peak scratch (MiB)", "---:")] * with_memory
    lines = [f"{heading} {group}", ""]
    if floor is not None:
        lines += [f"Floor: {floor.seconds * 1e3:.3f} ms ({floor.bound}: {floor.detail}).", ""]
    lines += ["| " + " | ".join(c for c, _ in columns) + " |",
              "|" + "|".join(a for _, a in columns) + "|"]
    notes = []
    for impl, bench in sorted(impls.items(), key=lambda kv: kv[1]["stats"]["median"]):
        stats, info = bench["stats"], bench["extra_info"]
        cells = [impl, f"{stats['median'] * 1e3:.3f}", f"{stats['iqr'] * 1e3:.3f}",
                 str(stats["rounds"]), ratio(stats["median"], base)]
        if with_images:
            cells.append(f"{info['images'] / stats['median']:.1f}" if "images" in info else "")
        if floor is not None:
            cells.append(percent(floor.seconds, stats["median"]))
        if with_memory:
            cells.append(f"{info.get('transient_peak_bytes', 0) / MIB:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        if "compile_seconds" in info:
            notes.append(f"{impl}: compiled (mode {info.get('compile_mode', 'default')}) in "
                         f"{info['compile_seconds']} s before timing.")
        if info.get("top_ops"):
            notes.append(f"{impl} profile: {profile_text(info['top_ops'])}.")
    return lines + [""] + ([*notes, ""] if notes else [])


def summary_totals(impls, rates=None):
    """{impl: (layers, sum of medians, largest peak, sum of floors or None)} of one summary,
    each median and floor weighted by its benchmark's layer count."""
    totals = {}
    for impl, benches in impls.items():
        floors = [floor_of(b["extra_info"], rates or {}) for b in benches]
        totals[impl] = (
            sum(b["extra_info"]["layers"] for b in benches),
            sum(b["stats"]["median"] * b["extra_info"]["layers"] for b in benches),
            max(b["extra_info"].get("transient_peak_bytes", 0) for b in benches),
            sum(f.seconds * b["extra_info"]["layers"] for f, b in zip(floors, benches))
            if all(floors) else None)
    return totals


def render_summaries(summaries, rates=None, heading="###"):
    lines = []
    for summary, impls in sorted(summaries.items(), key=lambda kv: natural_key(kv[0])):
        totals = summary_totals(impls, rates)
        base = totals.get(FUSED, (0, None, None, None))
        floors = any(t[3] is not None for t in totals.values())
        lines += [f"{heading} {summary}", "",
                  "| impl | layers | sum of medians (ms) | time / fused | "
                  "largest peak scratch (MiB) | scratch / fused |" + " of floor |" * floors,
                  "|---|---:|---:|---:|---:|---:|" + "---:|" * floors]
        for impl, (layers, total, peak, floor) in sorted(totals.items(), key=lambda kv: kv[1][1]):
            row = (f"| {impl} | {layers} | {total * 1e3:.3f} | {ratio(total, base[1])} | "
                   f"{peak / MIB:.1f} | {ratio(peak, base[2])} |")
            lines.append(row + (f" {percent(floor, total)} |" if floors else ""))
        lines.append("")
    return lines
