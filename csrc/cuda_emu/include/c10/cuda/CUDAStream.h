// Shim of c10/cuda/CUDAStream.h for the CPU emulation: one (null) stream; launches are
// synchronous.
#pragma once

#include <cuda_runtime.h>

namespace c10::cuda {

class CUDAStream {
 public:
  cudaStream_t stream() const { return nullptr; }
  operator cudaStream_t() const { return nullptr; }
};

inline CUDAStream getCurrentCUDAStream(signed char /*device_index*/ = -1) { return {}; }

}  // namespace c10::cuda
