// Helpers shared by the CUDA registrations (host code): device selection and launch checks.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <cuda_runtime.h>

#include <optional>

namespace centernet_fast {

// Raises a RuntimeError naming `op` when a kernel launch reported an error.
inline void check_launch(const char* op, cudaError_t err) {
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

// The GPU to make current for t. The dispatcher also lands in a CUDA kernel when only another
// argument is on the GPU; then no device is set and the argument checks report the mismatch.
inline std::optional<c10::Device> cuda_device_of(const at::Tensor& t) {
  return t.is_cuda() ? std::optional<c10::Device>(t.device()) : std::nullopt;
}

}  // namespace centernet_fast
