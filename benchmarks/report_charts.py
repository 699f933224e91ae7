"""One PNG per op family: for every case (and every per-model sum) a bar per implementation
with its time / the fused op's time, on a log axis, so that the gains are seen at a glance.

matplotlib is a benchmark extra (``pip install -e ".[bench]"``); without it the report is
written without charts and says so.
"""

from pathlib import Path

from report_tables import FUSED, summary_totals

MACHINE = "machine"


def _short(label, op):
    """The case label without its op name (the chart's title)."""
    return label[len(op):].lstrip() if label.startswith(op + " ") else label


TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def family_ratios(runs):
    """{op: [(case label, {impl: time / fused})]} over all runs; a label that two runs share
    is prefixed with the run's name."""
    families, seen = {}, {}
    for run in runs:
        for group, impls in run.groups.items():
            op = next(iter(impls.values()))["extra_info"].get("op", group.split()[0])
            base = impls.get(FUSED, {}).get("stats", {}).get("median")
            if op == MACHINE or not base:
                continue
            ratios = {i: b["stats"]["median"] / base for i, b in impls.items() if i != FUSED}
            families.setdefault(op, []).append((run.name, _short(group, op), ratios))
        for summary, impls in run.summaries.items():
            totals = summary_totals(impls)
            op = impls[next(iter(impls))][0]["extra_info"].get("op", summary.split()[0])
            if FUSED in totals and totals[FUSED][1]:
                ratios = {i: t[1] / totals[FUSED][1] for i, t in totals.items() if i != FUSED}
                families.setdefault(op, []).append((run.name, "sum: " + _short(summary, op),
                                                    ratios))
    for cases in families.values():
        for _, label, _ in cases:
            seen[label] = seen.get(label, 0) + 1
    return {op: [(f"{run}: {label}" if seen[label] > 1 else label, ratios)
                 for run, label, ratios in cases] for op, cases in families.items()}


def write_charts(families, out_dir):
    """Writes ``<out_dir>/<op>.png`` per family; returns {op: path}, empty without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for op, cases in sorted(families.items()):
        impls = sorted({i for _, ratios in cases for i in ratios})
        if not impls:
            continue
        height = 0.8 / len(impls)
        fig, ax = plt.subplots(figsize=(10, 1.5 + 0.22 * len(cases) * max(len(impls), 2)))
        for k, impl in enumerate(impls):
            ys = [n + k * height for n, (_, ratios) in enumerate(cases) if impl in ratios]
            xs = [ratios[impl] for _, ratios in cases if impl in ratios]
            # Bars grow from 1 (the fused op) to the ratio, right when the fused op is faster.
            bars = ax.barh(ys, [x - 1 for x in xs], left=1, height=height, label=impl)
            ax.bar_label(bars, labels=[f"{x:.3g}x" for x in xs], fontsize=6, padding=2)
        ax.set_yticks([n + 0.4 - height / 2 for n in range(len(cases))])
        ax.set_yticklabels([label for label, _ in cases], fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        values = [r for _, ratios in cases for r in ratios.values()] + [1.0]
        lo, hi = min(values) / 1.5, max(values) * 2
        ax.set_xlim(lo, hi)
        ax.set_xticks([t for t in TICKS if lo <= t <= hi])
        ax.set_xticklabels([f"{t:g}x" for t in TICKS if lo <= t <= hi])
        ax.minorticks_off()
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xlabel("time / fused (log scale; right of the line: the fused op is faster)")
        ax.set_title(f"{op}: each implementation against the fused op, same run")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
        path = out_dir / f"{op}.png"
        fig.savefig(path, dpi=90, bbox_inches="tight", metadata={"Software": None})
        plt.close(fig)
        paths[op] = path
    return paths
