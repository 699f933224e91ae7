// Shim of c10/cuda/CUDAGuard.h for the CPU emulation: there is one emulated device, so device
// guards do nothing.
#pragma once

#include <c10/core/Device.h>

#include <optional>

namespace c10::cuda {

struct OptionalCUDAGuard {
  explicit OptionalCUDAGuard(std::optional<c10::Device> /*device*/) {}
};

struct CUDAGuard {
  explicit CUDAGuard(c10::Device /*device*/) {}
};

}  // namespace c10::cuda
