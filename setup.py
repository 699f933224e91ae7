"""Builds centernet_fast._C against the installed torch.

CPU kernels are always built. CUDA kernels are added when torch is a CUDA build and a CUDA toolkit
is found, or when FORCE_CUDA=1 (then a missing toolkit or a CPU-only torch is an error).
TORCH_CUDA_ARCH_LIST and MAX_JOBS are read by torch's BuildExtension.
"""

import os
from pathlib import Path

from setuptools import setup
from torch.utils import cpp_extension

ROOT = Path(__file__).parent
CSRC = ROOT / "csrc"


def _sources(pattern):
    return sorted(str(p.relative_to(ROOT)) for p in CSRC.glob(pattern))


def _want_cuda():
    import torch

    forced = os.environ.get("FORCE_CUDA", "0") == "1"
    toolkit = cpp_extension.CUDA_HOME
    if forced:
        if torch.version.cuda is None:
            raise RuntimeError("FORCE_CUDA=1 but the installed torch is a CPU-only build")
        if toolkit is None:
            raise RuntimeError("FORCE_CUDA=1 but no CUDA toolkit was found (set CUDA_HOME)")
        return True
    return torch.version.cuda is not None and toolkit is not None


def _extension():
    host_flags = ["-O3", "-ffp-contract=off"]
    sources = _sources("*.cpp") + _sources("cpu/*.cpp")
    with_cuda = _want_cuda()
    print(f"centernet_fast: building {'CPU and CUDA' if with_cuda else 'CPU'} kernels")
    if not with_cuda:
        return cpp_extension.CppExtension(
            "centernet_fast._C", sources, include_dirs=[str(CSRC)],
            extra_compile_args={"cxx": host_flags},
        )
    sources += _sources("cuda/*.cpp") + _sources("cuda/*.cu")
    return cpp_extension.CUDAExtension(
        "centernet_fast._C", sources, include_dirs=[str(CSRC)],
        extra_compile_args={"cxx": host_flags, "nvcc": ["-O3"]},
    )


setup(
    ext_modules=[_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
