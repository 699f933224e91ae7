"""End to end: CenterNet models on the fused ops against the same models on the reference ops.

Per case (arch, task, device, precision, batch, input size) the group holds:
    fused            the model as shipped, eager.
    fused_compiled   the same under torch.compile(fullgraph=True): model + decode, or model +
                     loss (targets and optimiser step eager); compiled before timing, the
                     compile time recorded as ``compile_seconds``.
    reference        the same model, weights and inputs with deform_conv2d, focal_loss and
                     ctdet_decode swapped for the plain-PyTorch reference (reference_ops.py),
                     standing in for the original CenterNet, whose DCNv2 no longer builds.
Tasks, for dla_34 and resdcn_18 with heads hm 80, wh 2, reg 2:
    latency     forward + ops.ctdet_decode(logits=True, K=100), eval mode, batch 1.
    inference   the same at the throughput batch (img/s = batch / median).
    training    ops.ctdet_targets of 16 random boxes per image, forward, CenterNetLoss, backward
                and an Adam step at the throughput batch.
Precisions: float32, and bf16-channels_last (torch.autocast bfloat16, model and images in
channels_last). Inputs: 3 sets of random images (and boxes) handed out in turn.

Sizes: 512 x 512, throughput batch 32 on CUDA (the targets of the models issue: <= 4 ms / 2 ms
dla_34 / resdcn_18 latency and >= 400 img/s dla_34 training on an H100). On a CPU the defaults
are scaled so that the file finishes in minutes on 2 cores: 256 x 256, batch 4; bfloat16 only
on a CPU with native bfloat16 arithmetic (avx512_bf16 or AMX in /proc/cpuinfo: there the bf16
training step measured 1.3-1.6x faster than float32 on the 2-core development machine; emulated
elsewhere, it would only add minutes); and no torch.compile, whose compiles (15-40 s per forward
+ decode graph, 40-120 s per training graph on that machine when quiet) and 512 x 512 steps
turn minutes into half an hour: results/cpu-2core-models-512.json is that run, 26 minutes with
MODEL_SIZE=512 and MODEL_COMPILE=1.
Environment variables (defaults CUDA / CPU):
    CENTERNET_FAST_BENCH_MODEL_SIZE        input side, 512 / 256 (a multiple of 32)
    CENTERNET_FAST_BENCH_MODEL_BATCH       throughput batch, 32 / 4
    CENTERNET_FAST_BENCH_MODEL_ARCHS       dla_34,resdcn_18
    CENTERNET_FAST_BENCH_MODEL_PRECISIONS  float32,bf16-channels_last / the same with native
                                           bfloat16, else float32
    CENTERNET_FAST_BENCH_MODEL_COMPILE     1 / 0
    CENTERNET_FAST_BENCH_COMPILE_MODE      torch.compile mode, "default" (e.g. reduce-overhead)
    CENTERNET_FAST_BENCH_MODEL_ROUNDS      timed rounds, 50 latency and 20 otherwise (half for
                                           the reference) / 5

The floor: the FLOPs of the matrix products and convolutions of one call (floors.count_flops on
the fused eager warm-up call: convolutions, heads, transposed convolutions and the DCN products,
forward and, for training, backward) over the machine's matmul rate in the case's precision.
"""

import os
from contextlib import nullcontext

import pytest
import torch

from floors import count_flops, cpu_has_bf16, floor_info
from model_workloads import Case, workload
from profiling import top_ops
from reference_ops import reference_ops
from timing import measure, synchronized, wall_seconds

IMPLS = ["fused", "fused_compiled", "reference"]
TASKS = ["latency", "inference", "training"]
PRECISIONS = ["float32", "bf16-channels_last"]
ENV = "CENTERNET_FAST_BENCH_"


def setting(name, cuda_default, cpu_default, device):
    return os.environ.get(ENV + name, cuda_default if device == "cuda" else cpu_default)


ARCHS = os.environ.get(ENV + "MODEL_ARCHS", "dla_34,resdcn_18").split(",")
CPU_PRECISIONS = ",".join(PRECISIONS) if cpu_has_bf16() else "float32"
_FLOPS = {}  # case -> FLOPs counted on the fused eager call, shared with fused_compiled


def make_case(arch, task, device, precision):
    size = int(setting("MODEL_SIZE", "512", "256", device))
    batch = 1 if task == "latency" else int(setting("MODEL_BATCH", "32", "4", device))
    return Case(arch, task, device, precision, batch, size)


def rounds(case, impl):
    """(timed, warm-up) rounds; on CUDA the reference gets half: its batch-32 steps take up to
    seconds each, and the GPU run has to fit in few calls of a lent machine."""
    default = (50 if case.task == "latency" else 20) if case.device == "cuda" else 5
    if case.device == "cuda" and impl == "reference":
        default //= 2
    timed = int(os.environ.get(ENV + "MODEL_ROUNDS", default))
    return timed, max(1, min(timed // 5, 5))


def compiler():
    mode = os.environ.get(ENV + "COMPILE_MODE", "default")
    return mode, lambda fn: torch.compile(fn, fullgraph=True, mode=mode)


def prepare(case, impl, benchmark):
    """(fn, argument sets) after the untimed first call, which counts the FLOPs (fused),
    compiles (fused_compiled) or checks that the reference swap reached every call site."""
    info = benchmark.extra_info
    if impl == "fused_compiled":
        mode, compile_fn = compiler()
        fn, arg_sets, _ = workload(case, compile_fn)
        info.update(compile_mode=mode,
                    compile_seconds=round(wall_seconds(fn, *arg_sets[0], device=case.device), 1))
        return fn, arg_sets
    fn, arg_sets, expected = workload(case)
    if impl == "fused":
        _, _FLOPS[case] = count_flops(synchronized(fn, case.device), *arg_sets[0])
        return fn, arg_sets
    with reference_ops() as calls:
        synchronized(fn, case.device)(*arg_sets[0])
    assert dict(calls) == expected, f"the reference swap missed call sites: {dict(calls)}"
    return fn, arg_sets


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ARCHS)
def test_model(benchmark, device, arch, task, precision, impl):
    if precision not in setting("MODEL_PRECISIONS", ",".join(PRECISIONS), CPU_PRECISIONS,
                                device).split(","):
        pytest.skip(f"{precision} is off on {device} (CENTERNET_FAST_BENCH_MODEL_PRECISIONS)")
    if impl == "fused_compiled" and setting("MODEL_COMPILE", "1", "0", device) != "1":
        pytest.skip(f"torch.compile is off on {device} (CENTERNET_FAST_BENCH_MODEL_COMPILE)")
    case = make_case(arch, task, device, precision)
    benchmark.group = (f"model {arch} {task} {device} {precision} "
                       f"B={case.batch} {case.size}x{case.size}")
    benchmark.extra_info.update(op="model", impl=impl, arch=arch, task=task, device=device,
                                precision=precision, batch=case.batch, size=case.size,
                                images=case.batch)
    try:
        run(benchmark, case, impl)
    except torch.OutOfMemoryError:
        # The reference keeps every gather of its DCN layers for the backward: at batch 32
        # it may not fit where the fused model does. A skip says so in the pytest summary.
        torch.cuda.empty_cache()
        pytest.skip(f"{impl} does not fit in the GPU's memory at batch {case.batch}")


def run(benchmark, case, impl):
    fn, arg_sets = prepare(case, impl, benchmark)
    device = case.device
    if case in _FLOPS:
        dtype = "float32" if case.precision == "float32" else "bfloat16"
        benchmark.extra_info.update(floor_info(floor_flops=_FLOPS[case], dtype=dtype))
    if impl.startswith("fused"):
        benchmark.extra_info["top_ops"] = top_ops(fn, arg_sets[0], device)
    timed, warmup = rounds(case, impl)
    with reference_ops() if impl == "reference" else nullcontext():
        measure(benchmark, fn, arg_sets, device, rounds=timed, warmup_rounds=warmup)
