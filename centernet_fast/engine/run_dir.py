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

from PIL import Image, ImageDraw

from centernet_fast.atomic_files import atomic_write

CURVE_COLORS = {"loss": (20, 20, 20), "hm": (200, 40, 40), "wh": (40, 110, 200),
                "off": (30, 150, 60)}


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
                        self.file("loss.png"))


def draw_curves(steps: Sequence[float], series: Dict[str, Sequence[float]], path: str,
                size=(800, 480)) -> None:
    """A line chart of ``series`` (name -> values at ``steps``) on a log10 y axis, written as PNG
    atomically. Non-positive and non-finite values are left out."""
    width, height = size
    left, right, top, bottom = 60, 110, 20, 40
    points = [(s, v) for values in series.values() for s, v in zip(steps, values)
              if v > 0 and math.isfinite(v)]
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    if points:
        x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
        y_lo = math.floor(math.log10(min(p[1] for p in points)))
        y_hi = math.ceil(math.log10(max(p[1] for p in points)))
        y_hi = max(y_hi, y_lo + 1)
        x_span = max(x_hi - x_lo, 1)

        def xy(step, value):
            x = left + (step - x_lo) / x_span * (width - left - right)
            y = top + (y_hi - math.log10(value)) / (y_hi - y_lo) * (height - top - bottom)
            return x, y

        for decade in range(y_lo, y_hi + 1):  # gridlines at powers of ten
            y = xy(x_lo, 10.0 ** decade)[1]
            draw.line([(left, y), (width - right, y)], fill=(225, 225, 225))
            draw.text((5, y - 6), f"1e{decade}", fill="black")
        draw.text((left, height - bottom + 8), f"step {x_lo}", fill="black")
        draw.text((width - right - 60, height - bottom + 8), f"step {x_hi}", fill="black")
        for row, (name, values) in enumerate(series.items()):
            color = CURVE_COLORS.get(name, (120, 120, 120))
            line = [xy(s, v) for s, v in zip(steps, values) if v > 0 and math.isfinite(v)]
            if len(line) > 1:
                draw.line(line, fill=color, width=2)
            elif line:
                draw.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2],
                             fill=color)
            draw.text((width - right + 10, top + 16 * row), name, fill=color)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    with atomic_write(path) as f:
        image.save(f, format="PNG")


def _write_text(path: str, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)
