"""What the machine at hand can do, measured once per run: the denominators of every floor.

Group ``machine <device>``:
    copy              dst.copy_(src) of a tensor far larger than any cache (1 GiB on CUDA,
                      256 MiB on a CPU): memory bandwidth = 2 * bytes / median (one read, one
                      write).
    matmul float32    an n x n float32 matrix product (n = 8192 on CUDA, 2048 on a CPU):
                      peak rate = 2 n^3 / median, with the session's TF32 settings (recorded in
                      the machine info; torch's default leaves float32 matmuls in full float32).
    matmul bfloat16   the same in bfloat16 (the rate of the bfloat16 cases), on CUDA and on a
                      CPU with native bfloat16 (floors.cpu_has_bf16).
The report divides each case's ``floor_bytes`` and ``floor_flops`` (floors.py) by these rates.
Measured, not taken from a data sheet, so that a floor is what this machine reaches with a
plain PyTorch call; a kernel can therefore get slightly past 100% of it.
"""

import pytest
import torch

from floors import cpu_has_bf16
from timing import measure

CASES = ["copy", "matmul float32", "matmul bfloat16"]


def copy_case(device):
    numel = (1 << 28) if device == "cuda" else (1 << 26)
    g = torch.Generator(device=device).manual_seed(0)
    src = torch.rand(numel, device=device, generator=g)
    dst = torch.empty_like(src)
    return (lambda s: dst.copy_(s)), [(src,)], {"bytes": 2 * src.numel() * src.element_size()}


def matmul_case(device, dtype):
    n = 8192 if device == "cuda" else 2048
    g = torch.Generator(device=device).manual_seed(0)
    a, b = (torch.randn(n, n, device=device, generator=g).to(dtype) for _ in range(2))
    out = torch.empty(n, n, device=device, dtype=dtype)
    return (lambda x, y: torch.mm(x, y, out=out)), [(a, b), (b, a)], {"flops": 2 * n ** 3}


@pytest.mark.parametrize("case", CASES)
def test_machine(benchmark, device, case):
    if case == "matmul bfloat16" and device == "cpu" and not cpu_has_bf16():
        pytest.skip("this CPU has no native bfloat16 (no bfloat16 cases run on it)")
    if case == "copy":
        fn, arg_sets, amount = copy_case(device)
    else:
        fn, arg_sets, amount = matmul_case(device, getattr(torch, case.split()[1]))
    benchmark.group = f"machine {device}"
    benchmark.extra_info.update(op="machine", impl=case, device=device,
                                dtype=case.split()[-1] if case != "copy" else None, **amount)
    rounds = 21 if device == "cuda" else 7
    measure(benchmark, fn, arg_sets, device, rounds=rounds, warmup_rounds=3)
