"""The benchmark helpers: peak scratch, timing rotation, the floor model, the reference-op swap of
the model benchmark, and the report (per-model sums, floors, targets, README and charts)."""

import json
import sys
from pathlib import Path

import pytest
import torch

import centernet_fast.ops
import centernet_fast.ops.dcn
from centernet_fast import ops
from centernet_fast.ops import reference

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from floors import count_flops, deform_conv2d_flops  # noqa: E402
from memory import transient_peak_bytes  # noqa: E402
from model_workloads import Case, workload  # noqa: E402
from reference_ops import reference_ops  # noqa: E402
from report import load, render  # noqa: E402
from report_data import load_run  # noqa: E402
from report_floors import floor_of, machine_rates  # noqa: E402
from report_readme import render_readme, write_readme  # noqa: E402
from report_targets import evaluate  # noqa: E402
from timing import CudaEventClock, measure, rotation, use_device_clock  # noqa: E402


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


class StubBenchmark:
    """pytest-benchmark's fixture as ``measure`` uses it: pedantic with setup, extra_info."""

    def __init__(self):
        self.extra_info, self._timer = {}, None

    def pedantic(self, fn, setup, rounds, warmup_rounds):
        for _ in range(warmup_rounds + rounds):
            args, kwargs = setup()
            fn(*args, **kwargs)


def test_measure_rotates_the_argument_sets_through_warm_up_and_rounds():
    seen, bench = [], StubBenchmark()
    measure(bench, seen.append, [("a",), ("b",), ("c",)], "cpu", rounds=4, warmup_rounds=1)
    assert seen == ["a", "b", "c", "a", "b"]
    assert bench.extra_info["timer"] == "perf_counter" and bench._timer is None
    setup = rotation([(1,), (2,)])
    assert [setup()[0] for _ in range(3)] == [(1,), (2,), (1,)]


def test_cuda_benchmarks_get_the_event_clock():
    bench = StubBenchmark()
    assert use_device_clock(bench, "cuda") == "cuda_event_clock"
    assert isinstance(bench._timer, CudaEventClock)
    assert use_device_clock(object(), "cuda") == "perf_counter+synchronize"


def dcn_inputs():
    g = torch.Generator().manual_seed(0)
    shapes = [(2, 8, 10, 10), (2, 18, 10, 10), (4, 8, 3, 3), (4,), (2, 9, 10, 10)]
    return [torch.randn(s, generator=g).requires_grad_() for s in shapes]


@pytest.mark.parametrize("backward", [False, True])
def test_flop_count_of_the_fused_deform_conv2d_equals_the_reference_einsum(native, backward):
    def run(fn):
        def call(x, offset, weight, bias, mask):
            out = fn(x, offset, weight, bias, padding=(1, 1), mask=mask)
            if backward:
                out.sum().backward()
        return call

    expected = deform_conv2d_flops(2, 8, 4, 10, 10) * (3 if backward else 1)
    assert count_flops(run(ops.deform_conv2d), *dcn_inputs())[1] == expected
    assert count_flops(run(reference.deform_conv2d), *dcn_inputs())[1] == expected


@pytest.mark.parametrize("precision", ["float32", "bf16-channels_last"])
@pytest.mark.parametrize("task", ["latency", "training"])
def test_reference_swap_reaches_every_call_site_and_is_undone(task, precision):
    case = Case("resdcn_18", task, "cpu", precision, 1 if task == "latency" else 2, 64)
    fn, arg_sets, expected = workload(case)
    fused = (centernet_fast.ops.dcn.deform_conv2d, ops.focal_loss, ops.ctdet_decode)
    with reference_ops() as calls:
        swapped = fn(*arg_sets[0])
    assert dict(calls) == expected and expected["deform_conv2d"] == 3
    assert (centernet_fast.ops.dcn.deform_conv2d, ops.focal_loss, ops.ctdet_decode) == fused
    with reference_ops() as calls:
        pass
    if task == "latency" and precision == "float32":  # eval mode: the same detections
        torch.testing.assert_close(fn(*arg_sets[0]), swapped, atol=1e-3, rtol=1e-4)
    assert not calls


def bench(group, impl, median, op="op", device="cpu", **info):
    return {"group": group, "stats": {"median": median, "iqr": 0.0, "rounds": 3},
            "extra_info": {"op": op, "impl": impl, "device": device, **info}}


def write_run(tmp_path, name, benches, machine=None):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"machine_info": machine or {"cpu": {"brand_raw": "cpu"}},
                                "benchmarks": benches}))
    return path


def machine_benches(device="cpu"):
    # 1 GB/s copy; 1 GFLOP/s float32 and 4 GFLOP/s bfloat16 matmul.
    return [bench(f"machine {device}", "copy", 1.0, op="machine", device=device, bytes=10 ** 9),
            bench(f"machine {device}", "matmul float32", 1.0, op="machine", device=device,
                  dtype="float32", flops=10 ** 9),
            bench(f"machine {device}", "matmul bfloat16", 0.25, op="machine", device=device,
                  dtype="bfloat16", flops=10 ** 9)]


def test_report_sums_medians_weighted_by_layer_count(tmp_path):
    def layer(group, impl, median, layers, peak):
        return bench(group, impl, median, layers=layers, summary="model",
                     transient_peak_bytes=peak)

    path = write_run(tmp_path, "r", [layer("a", "fused", 0.001, 5, 2 << 20),
                                     layer("a", "other", 0.004, 5, 8 << 20),
                                     layer("b", "fused", 0.010, 1, 1 << 20),
                                     layer("b", "other", 0.010, 1, 16 << 20)])
    text = render(*load(path))
    # fused: 5 x 1 ms + 10 ms = 15 ms; other: 5 x 4 ms + 10 ms = 30 ms; peaks: max over layers.
    assert "| fused | 6 | 15.000 | 1.00x | 2.0 | 1.00x |" in text
    assert "| other | 6 | 30.000 | 2.00x | 16.0 | 8.00x |" in text
    assert "| other | 4.000 | 0.000 | 3 | 4.00x | 8.0 |" in text


def test_floor_is_the_larger_of_memory_and_compute_time_in_the_case_precision():
    rates = machine_rates({"machine cpu": {b["extra_info"]["impl"]: b
                                           for b in machine_benches()}})
    assert rates["cpu"].bandwidth == 1e9 and rates["cpu"].flops == {"float32": 1e9,
                                                                     "bfloat16": 4e9}
    info = {"device": "cpu", "floor_bytes": 2 * 10 ** 9, "floor_flops": 3 * 10 ** 9}
    assert floor_of({**info, "floor_dtype": "float32"}, rates)[:2] == (3.0, "compute")
    assert floor_of({**info, "floor_dtype": "bfloat16"}, rates)[:2] == (2.0, "memory")
    assert floor_of({**info, "device": "cuda"}, rates) is None
    assert floor_of({"device": "cpu"}, rates) is None


def test_report_rows_show_images_per_second_and_the_fraction_of_the_floor(tmp_path):
    # floor: 0.5 GB at 1 GB/s = 0.5 s; fused takes 1 s (50%), other 4 s (12%).
    case = dict(floor_bytes=5 * 10 ** 8, images=8, top_ops=[["kernel_a", 0.75]])
    path = write_run(tmp_path, "r", machine_benches() + [bench("g", "fused", 1.0, **case),
                                                         bench("g", "other", 4.0, **case)])
    text = render(*load(path))
    assert "Floor: 500.000 ms (memory: 500 MB at 1 GB/s)." in text
    assert "| fused | 1000.000 | 0.000 | 3 | 1.00x | 8.0 | 50% |" in text
    assert "| other | 4000.000 | 0.000 | 3 | 4.00x | 2.0 | 12% |" in text
    assert "fused profile: `kernel_a` 75%." in text
    assert "machine cpu" not in text and "cpu: copy 1 GB/s" in text


def run_with_targets(tmp_path):
    # focal_loss on cuda: floor 0.5 s; fused 1 s (50% of the floor), compiled 1.2 s, reference 10 s.
    focal = dict(op="focal_loss", device="cuda", floor_bytes=5 * 10 ** 8,
                 top_ops=[["focal_kernel", 0.9]])
    model = dict(op="model", device="cuda", arch="dla_34", task="training", size=512, batch=32,
                 images=32)
    return load_run(write_run(tmp_path, "gpu", machine_benches("cuda") + [
        bench("focal", "fused", 1.0, **focal), bench("focal", "compiled", 1.2, **focal),
        bench("focal", "reference", 10.0, **focal),
        bench("dla f32", "fused", 0.2, **model), bench("dla f32", "fused_compiled", 0.1, **model),
        bench("dla bf16", "fused", 0.09, **model), bench("dla bf16", "reference", 0.01, **model),
    ]))


def results_by_text(results):
    return {(r.target["text"], r.case): r for r in results}


def test_targets_say_by_how_much_a_miss_misses(tmp_path):
    run = run_with_targets(tmp_path)
    targets = [
        {"issue": 3, "op": "focal_loss", "device": "cuda", "kind": "floor", "min": 0.75,
         "text": "floor"},
        {"issue": 3, "op": "focal_loss", "device": "cuda", "kind": "speedup",
         "anchor": "compiled", "min": 1.5, "text": "vs compiled"},
        {"issue": 3, "op": "focal_loss", "device": "cuda", "kind": "speedup",
         "anchor": "reference", "min": 8, "text": "vs eager"},
        {"issue": 3, "op": "focal_loss", "device": "cpu", "kind": "speedup",
         "anchor": "reference", "min": 3, "text": "cpu"},
        {"issue": 5, "op": "model", "device": "cuda", "over": "best", "kind": "throughput",
         "where": {"arch": "dla_34", "task": "training"}, "min": 400, "text": "img/s"},
    ]
    got = results_by_text(evaluate(targets, [run]))
    floor = got[("floor", "focal")]
    assert floor.measured == "50%"
    assert floor.status.startswith("**missed by 1.50x** (needs 33% less time); at 50% of its "
                                   "floor; profile: `focal_kernel` 90%")
    assert got[("vs compiled", "focal")].status.startswith("**missed by 1.25x** (needs 20%")
    eager = got[("vs eager", "focal")]
    assert (eager.measured, eager.status) == ("10x", "met")
    assert got[("cpu", "-")].status == "not measured in these runs"
    # The best fused variant: bf16 eager at 32 / 0.09 s = 356 img/s (the reference row is no
    # candidate), 400 / 356 = 1.125.
    best = got[("img/s", "dla bf16 (fused)")]
    assert best.measured == "356 img/s" and best.status.startswith("**missed by 1.12x**")


def test_summary_targets_use_the_layer_weighted_sums():
    from report_data import Run
    layer = dict(op="deform_conv2d", device="cuda", pass_="fwd+bwd", precision="float32",
                 summary="dla")
    benches = {"fused": [bench("a", "fused", 0.001, layers=10, transient_peak_bytes=10, **layer)],
               "torchvision": [bench("a", "torchvision", 0.002, layers=10,
                                     transient_peak_bytes=100, **layer)]}
    run = Run("r", {}, {}, {"dla": benches}, {})
    targets = [{"issue": 4, "op": "deform_conv2d", "device": "cuda", "over": "summary",
                "where": {"pass_": "fwd+bwd"}, "kind": kind, "anchor": "torchvision",
                "text": kind, **bound}
               for kind, bound in (("speedup", {"min": 1.3}), ("scratch", {"max": 0.25}))]
    got = results_by_text(evaluate(targets, [run]))
    assert (got[("speedup", "dla")].measured, got[("speedup", "dla")].status) == ("2x", "met")
    assert (got[("scratch", "dla")].measured, got[("scratch", "dla")].status) == ("0.1x", "met")


def test_readme_has_the_runs_targets_charts_and_tables(tmp_path):
    run = run_with_targets(tmp_path)
    readme = tmp_path / "out" / "README.md"
    readme.parent.mkdir()
    write_readme([run], readme)
    text = readme.read_text()
    for chart in ("focal_loss.png", "model.png"):
        assert (readme.parent / "charts" / chart).stat().st_size > 1000
        assert f"(charts/{chart})" in text
    assert "python -m pytest benchmarks -q --benchmark-json=" in text
    assert "| gpu | cpu | ? | none |" in text and "cuda: copy 1 GB/s" in text
    assert "## focal_loss" in text and "#### focal" in text and "### Run `gpu`" in text
    assert "not measured in these runs" in text  # the CPU and model-latency targets


def test_committed_readme_is_the_report_of_the_committed_results():
    """benchmarks/README.md is regenerated whenever results/ changes (the charts are compared
    by name only: they need matplotlib)."""
    paths = sorted((BENCHMARKS / "results").glob("*.json"))
    assert paths
    for path in paths:
        assert render(*load(path)).startswith("Machine:")
    charts = {p.stem: p for p in (BENCHMARKS / "charts").glob("*.png")}
    text = render_readme([load_run(p) for p in paths], charts, BENCHMARKS)
    assert text.startswith("# Benchmarks") and "## deform_conv2d" in text
    assert (BENCHMARKS / "README.md").read_text() == text + "\n", (
        "run: python benchmarks/report.py benchmarks/results/*.json "
        "--readme benchmarks/README.md")
