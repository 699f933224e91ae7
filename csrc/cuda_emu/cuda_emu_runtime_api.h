// The CUDA runtime API of the CPU emulation (see cuda_emu.h): the types and calls that host
// code uses around kernel launches. Included through the cuda_runtime.h shim, so host .cpp files
// see only this, not the device language.
#pragma once

struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
};

typedef struct CUstream_st* cudaStream_t;
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorLaunchFailure = 719,
};

namespace cnf_emu {
cudaError_t take_last_error();
cudaError_t peek_last_error();
const char* error_string(cudaError_t err);
}  // namespace cnf_emu

// ---- Runtime API -------------------------------------------------------------------------------
inline cudaError_t cudaGetLastError() { return ::cnf_emu::take_last_error(); }
inline cudaError_t cudaPeekAtLastError() { return ::cnf_emu::peek_last_error(); }
inline const char* cudaGetErrorString(cudaError_t err) { return ::cnf_emu::error_string(err); }
inline cudaError_t cudaDeviceSynchronize() { return ::cnf_emu::peek_last_error(); }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return ::cnf_emu::peek_last_error(); }
