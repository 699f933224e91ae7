"""Plants known bugs in the CUDA kernels, one at a time, and checks that the emulated-kernel tests
catch each: the evidence that those tests can fail. Works on a copy of csrc/ (the checkout is not
touched), rebuilding only what a mutant changes.

usage: .venv/bin/python scripts/cuda_emu_mutants.py [--work DIR] [INDEX ...]
Prints one line per mutant (CAUGHT / NOT CAUGHT, with the first failure) and exits non-zero when a
mutant expected to be caught is not. About 20 s per mutant after a first build of 2 to 3 minutes.
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TESTS = ["tests/test_cuda_emu_targets_decode.py", "tests/test_cuda_emu_focal_deform.py"]


class Mutant(NamedTuple):
    name: str
    path: str     # under csrc/
    old: str
    new: str
    tests: str    # pytest -k expression
    caught: bool = True  # False: the plain emulation cannot (no preemption); TSan mode reports it


MUTANTS = [
    Mutant("tile kernel: no barrier after the keys are written", "cuda/decode_kernel.cu",
           "    __syncthreads();  // keys and taken are visible to the block\n", "\n", "decode"),
    Mutant("radix select: no barrier after the histogram", "cuda/block_select.cuh",
           "                                  : kRadixBins);\n    }\n    __syncthreads();\n",
           "                                  : kRadixBins);\n    }\n", "decode"),
    Mutant("merge kernel: sorts before the barrier", "cuda/decode_kernel.cu",
           "  __syncthreads();\n  bitonic_sort_descending(best, padded);",
           "  bitonic_sort_descending(best, padded);\n  __syncthreads();", "decode"),
    Mutant("tile kernel: shared counter never reset", "cuda/decode_kernel.cu",
           "    if (threadIdx.x == 0) taken = 0;\n", "\n", "decode"),
    Mutant("merge kernel: 2048 threads per block", "cuda/decode_kernel.cu",
           "constexpr int kMergeThreads = 1024;", "constexpr int kMergeThreads = 2048;", "decode"),
    Mutant("focal block_sum: warp reduction skips its last step", "cuda/focal_loss_kernel.cu",
           "  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, "
           "offset);\n  const int lane",
           "  for (int offset = 16; offset > 1; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, "
           "offset);\n  const int lane", "focal_loss"),
    Mutant("focal block_sum: full-mask shuffle in half a warp", "cuda/focal_loss_kernel.cu",
           "  if (warp == 0) {\n", "  if (warp == 0 && lane < 16) {\n", "focal_loss"),
    Mutant("targets: Gaussian window loop one past the end", "cuda/heatmap_targets_kernel.cu",
           "i < win_area; i += kWarpSize", "i <= win_area; i += kWarpSize", "ctdet_targets"),
    Mutant("targets: atomicMax as a plain read-max-write", "cuda/heatmap_targets_kernel.cu",
           "      atomicMax(plane + static_cast<int64_t>(t.cy + dy) * p.width + (t.cx + dx), "
           "__float_as_int(v));",
           "      { int* c = plane + static_cast<int64_t>(t.cy + dy) * p.width + (t.cx + dx); "
           "*c = *c > __float_as_int(v) ? *c : __float_as_int(v); }", "ctdet_targets",
           caught=False),
    Mutant("deform gather: last entry of each pixel skipped", "cuda/deform_conv_kernel.cu",
           "s < end; ++s)", "s + 1 < end; ++s)", "deform"),
    Mutant("deform offset gradient: lx and ly swapped", "cuda/deform_conv_kernel.cu",
           "gy += gv * ((1 - lx) * (v[2] - v[0]) + lx * (v[3] - v[1]));",
           "gy += gv * ((1 - ly) * (v[2] - v[0]) + ly * (v[3] - v[1]));", "deform"),
    Mutant("deform offset gradient: the dcnv2 border rule ignored", "cuda/deform_conv_kernel.cu",
           "narrow<scalar_t>(b.offset_grad ? m * gy : acc_t(0));", "narrow<scalar_t>(m * gy);",
           "deform"),
]


def build(work):
    subprocess.run(["cmake", "--build", str(work / "build"), "--target",
                    "centernet_fast_cuda_emu", "-j", os.environ.get("MAX_JOBS", "2")],
                   check=True, capture_output=True, text=True)


def prepare(work):
    """A copy of the sources and a configured build of the emulation library in work/."""
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in ("csrc", "cpp_tests", "CMakeLists.txt"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, src / name)
    prefix = subprocess.run([PYTHON, "-c", "import torch.utils; print(torch.utils.cmake_prefix_path)"],
                            check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run(["cmake", "-S", str(src), "-B", str(work / "build"), "-DCMAKE_BUILD_TYPE=Release",
                    f"-DCMAKE_PREFIX_PATH={prefix}", "-DCENTERNET_FAST_CUDA_EMU=ON",
                    f"-DPython3_EXECUTABLE={PYTHON}"], check=True, capture_output=True, text=True)
    build(work)
    return src / "csrc"


def first_failure(output):
    for line in output.splitlines():
        if line.startswith("E ") or "Fatal Python error" in line:
            return line[:200]
    return ""


def run_mutant(work, csrc, m):
    """Whether the tests fail with mutant m in place, and the first failure line."""
    path = csrc / m.path
    original = path.read_text()
    if m.old not in original:
        raise SystemExit(f"mutant '{m.name}': its text is no longer in csrc/{m.path}")
    path.write_text(original.replace(m.old, m.new, 1))
    try:
        build(work)
        env = dict(os.environ, CENTERNET_FAST_CUDA_EMU_LIB=str(work / "build" /
                                                               "libcenternet_fast_cuda_emu.so"))
        r = subprocess.run([PYTHON, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            "-k", m.tests, *TESTS], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=900)
        return r.returncode != 0, first_failure(r.stdout + r.stderr)
    finally:
        path.write_text(original)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "build-cuda-emu-mutants")
    parser.add_argument("only", nargs="*", type=int, help="indices of the mutants to run")
    args = parser.parse_args()
    csrc = prepare(args.work.resolve())
    missed = 0
    for i, m in enumerate(MUTANTS):
        if args.only and i not in args.only:
            continue
        caught, failure = run_mutant(args.work.resolve(), csrc, m)
        verdict = "CAUGHT" if caught else "NOT CAUGHT"
        note = "" if m.caught else " (expected: only the ThreadSanitizer mode reports it)"
        print(f"[{i}] {m.name}: {verdict}{note}\n      {failure}", flush=True)
        missed += m.caught and not caught
    build(args.work.resolve())  # leave the library unmutated
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
