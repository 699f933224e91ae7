"""The run directory of a training run::

    DIR/config.json          the TrainConfig (and the model config) the run started from
    DIR/log.jsonl            one JSON object per line: {"event": "train" | "epoch" | "eval", ...}
    DIR/loss.png             the loss curve, redrawn at every epoch end
    DIR/checkpoints/         last.pth (every epoch, and every checkpoint_every iterations),
                             final.pth (the end of training)
    DIR/metrics.json, DIR/detections.json   the final evaluation

Only the main process (rank 0) writes here.
"""

import json
import math
import os
from typing import Any, Dict, List, Optional, Sequence

from centernet_fast.atomic_files import atomic_write

#: The curves of loss.png: the total and its components, with their colours.
CURVE_COLORS = {"loss": "black", "hm": "tab:red", "wh": "tab:blue", "off": "tab:green"}


def check_fresh_run(path: str, resume: Optional[str]) -> None:
    """Raises ``FileExistsError`` when ``path`` already holds a run (a log.jsonl) and the new run
    does not resume it: its checkpoints and log would be overwritten."""
    if resume is None and os.path.exists(os.path.join(path, "log.jsonl")):
        raise FileExistsError(f"{path} already holds a training run; continue it with --resume "
                              "or choose another output directory")


class RunDir:
    """Writes the files of a run directory (see the module docstring)."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(os.path.join(path, "checkpoints"), exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def log_path(self) -> str:
        return self.file("log.jsonl")

    def write_config(self, config: Dict[str, Any]) -> None:
        _write_text(self.file("config.json"), json.dumps(config, indent=2) + "\n")

    def log(self, record: Dict[str, Any]) -> None:
        """Appends one record as a JSON line (flushed: a killed run keeps what it logged)."""
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def records(self) -> List[Dict[str, Any]]:
        """Every record of log.jsonl, in order ([] before the first)."""
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate_log(self, global_step: int) -> None:
        """Drops the records of steps after ``global_step``: a run resumed from a checkpoint
        taken at that step redoes them, and its log should read as one uninterrupted run."""
        kept = [r for r in self.records() if r.get("step", 0) <= global_step]
        _write_text(self.log_path, "".join(json.dumps(r) + "\n" for r in kept))

    def draw_loss_curve(self) -> None:
        """Draws loss.png from the "train" records (total and components against the step)."""
        train = [r for r in self.records() if r.get("event") == "train"]
        if train:
            draw_curves([r["step"] for r in train],
                        {k: [r[k] for r in train] for k in CURVE_COLORS if k in train[0]},
                        self.file("loss.png"),
                        title=f"training loss: {os.path.basename(os.path.abspath(self.path))}")


def draw_curves(steps: Sequence[float], series: Dict[str, Sequence[float]], path: str,
                title: str = "training loss", size=(800, 480)) -> None:
    """``curves_figure`` written as a PNG of ``size`` pixels at ``path``, atomically."""
    dpi = 100
    figure = curves_figure(steps, series, title, (size[0] / dpi, size[1] / dpi))
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=dpi)


def curves_figure(steps: Sequence[float], series: Dict[str, Sequence[float]], title: str,
                  inches=(8.0, 4.8)):
    """A matplotlib Figure: ``series`` (name -> values at ``steps``) as lines on a log y axis,
    with axis labels, ticks, a legend and ``title``. Non-positive and non-finite values are
    left out (a log axis cannot show them)."""
    # The object API with the Agg canvas: no pyplot state, no display, safe in any thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=inches)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, values in series.items():
        kept = [(s, v) for s, v in zip(steps, values) if v > 0 and math.isfinite(v)]
        if kept:
            xs, ys = zip(*kept)
            axes.plot(xs, ys, marker="o" if len(kept) == 1 else None, label=name,
                      color=CURVE_COLORS.get(name))
    if axes.lines:
        axes.set_yscale("log")
        axes.legend(loc="upper right")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("loss (log scale)")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    figure.tight_layout()
    return figure


def _write_text(path: str, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)
