"""Builds centernet_fast._C against the installed torch.

CPU kernels are always built. CUDA kernels are added when torch is a CUDA build and a CUDA toolkit
is found, or when FORCE_CUDA=1 (then a missing toolkit or a CPU-only torch is an error).
TORCH_CUDA_ARCH_LIST and MAX_JOBS are read by torch's BuildExtension.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from torch.utils import cpp_extension

ROOT = Path(__file__).parent
CSRC = ROOT / "csrc"


def _sources(pattern):
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.glob(pattern))


def _cuda_toolkit():
    """The CUDA toolkit root torch found, if it really is one. torch derives it from `nvcc` on PATH
    when CUDA_HOME is unset, which goes wrong when that nvcc is a wrapper script."""
    root = cpp_extension.CUDA_HOME
    if root and (Path(root) / "include" / "cuda_runtime.h").is_file():
        return root
    return None


def _want_cuda():
    import torch

    forced = os.environ.get("FORCE_CUDA", "0") == "1"
    toolkit = _cuda_toolkit()
    if forced:
        if torch.version.cuda is None:
            raise RuntimeError("FORCE_CUDA=1 but the installed torch is a CPU-only build")
        if toolkit is None:
            raise RuntimeError(
                f"FORCE_CUDA=1 but no CUDA toolkit was found (torch looked at "
                f"{cpp_extension.CUDA_HOME!r}); set CUDA_HOME to the toolkit root")
        return True
    return torch.version.cuda is not None and toolkit is not None


def _openmp_flags():
    """at::parallel_for runs on one thread unless the extension itself is compiled with OpenMP:
    with torch's OpenMP backend, its `#pragma omp parallel` expands in our translation units.
    At load time the dynamic linker reuses the libgomp that torch has already loaded."""
    import torch

    if sys.platform.startswith("linux") and torch.backends.openmp.is_available():
        return ["-fopenmp"]
    return []


def _extension():
    openmp = _openmp_flags()
    host_flags = ["-O3", "-ffp-contract=off"] + openmp
    sources = _sources("*.cpp") + _sources("cpu/*.cpp")
    with_cuda = _want_cuda()
    print(f"centernet_fast: building {'CPU and CUDA' if with_cuda else 'CPU'} kernels")
    if not with_cuda:
        return cpp_extension.CppExtension(
            "centernet_fast._C", sources, include_dirs=[str(CSRC)],
            extra_compile_args={"cxx": host_flags}, extra_link_args=openmp,
        )
    sources += _sources("cuda/*.cpp") + _sources("cuda/*.cu")
    return cpp_extension.CUDAExtension(
        "centernet_fast._C", sources, include_dirs=[str(CSRC)],
        extra_compile_args={"cxx": host_flags, "nvcc": ["-O3"]}, extra_link_args=openmp,
    )


setup(
    ext_modules=[_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
