"""The 32-bit index bounds of the kernels: inputs past them raise ValueError naming the argument
before anything is allocated or launched (the CUDA registrations: tests/test_cuda_emu_*.py)."""

import pytest

from index_bounds import over_the_bounds


@pytest.mark.parametrize("case", range(3), ids=["decode", "targets", "deform"])
def test_cpu_kernels_refuse_sizes_past_32_bit_indices(native, case):
    call, message = over_the_bounds(native)[case]
    with pytest.raises(ValueError, match=message):
        call()
