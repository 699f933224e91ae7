// CNF_HOST_DEVICE marks scalar code compiled for both the CPU (host compiler) and the GPU (nvcc).
#pragma once

#if defined(__CUDACC__)
#define CNF_HOST_DEVICE __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Always inlined on the host too: the CPU kernels rely on it to vectorise loops over this code.
#define CNF_HOST_DEVICE inline __attribute__((always_inline))
#else
#define CNF_HOST_DEVICE inline
#endif
