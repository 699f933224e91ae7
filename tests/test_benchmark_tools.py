"""The benchmark helpers: peak scratch measurement and the report's per-model sums."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from memory import transient_peak_bytes  # noqa: E402
from report import load, render  # noqa: E402


def test_transient_peak_counts_temporaries_not_results():
    def fn(x):
        scratch = torch.empty(1 << 20, dtype=torch.uint8)  # 1 MiB, freed before returning
        scratch.fill_(1)
        return x + scratch[:4].float().sum()

    peak = transient_peak_bytes(fn, (torch.zeros(4),), "cpu")
    assert (1 << 20) <= peak < (1 << 20) + 4096

    def keeps(x):
        return torch.ones(1 << 18)  # 1 MiB result, no scratch

    assert transient_peak_bytes(keeps, (torch.zeros(4),), "cpu") < 4096


def bench(group, impl, median, layers, peak):
    return {"group": group, "stats": {"median": median, "iqr": 0.0, "rounds": 3},
            "extra_info": {"impl": impl, "layers": layers, "summary": "model",
                           "transient_peak_bytes": peak}}


def test_report_sums_medians_weighted_by_layer_count(tmp_path):
    data = {"machine_info": {"cpu": {"brand_raw": "cpu"}},
            "benchmarks": [bench("a", "fused", 0.001, 5, 2 << 20),
                           bench("a", "other", 0.004, 5, 8 << 20),
                           bench("b", "fused", 0.010, 1, 1 << 20),
                           bench("b", "other", 0.010, 1, 16 << 20)]}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    text = render(*load(path))
    # fused: 5 x 1 ms + 10 ms = 15 ms; other: 5 x 4 ms + 10 ms = 30 ms; peaks: max over layers.
    assert "| fused | 6 | 15.000 | 1.00x | 2.0 | 1.00x |" in text
    assert "| other | 6 | 30.000 | 2.00x | 16.0 | 8.00x |" in text
    assert "| other | 4.000 | 0.000 | 3 | 4.00x | 8.0 |" in text


def test_report_renders_the_committed_results():
    paths = list((Path(__file__).parents[1] / "benchmarks/results").glob("*.json"))
    assert paths
    for path in paths:
        assert render(*load(path)).startswith("Machine:")
