// Launcher of the emulation's self-test kernels (selftest_kernel.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace centernet_fast {

// Runs self-test `name` on out (int64, at least 1024 elements, zero-filled by the caller) and
// stores the launch's error in *err. Returns false (launching nothing) for an unknown name.
bool launch_emu_selftest(const char* name, int64_t* out, cudaError_t* err);

}  // namespace centernet_fast
