// The floating-point element types of the ops' tensors, as the params structs carry them to
// kernels compiled without PyTorch headers (at::ScalarType stays in the host code: dtype_of in
// csrc/dtype_of.h), and the one dispatch from such a runtime value to a C++ type.
#pragma once

#include <cstdint>
#include <type_traits>

namespace centernet_fast {

enum class Dtype : int32_t { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

// Calls f(T{}) with the C++ type of `dtype`: float, double, or the backend's own 16-bit types
// Half and BFloat16 (c10::Half and c10::BFloat16 on the CPU, __half and __nv_bfloat16 in CUDA).
// kWithFloat64 false leaves float64 out of the instantiations, for an op whose entry point
// rejects it (ctdet_decode's heat); such a call with kFloat64 does nothing.
template <typename Half, typename BFloat16, bool kWithFloat64 = true, typename F>
void dispatch_dtype(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::kFloat32: f(float{}); return;
    case Dtype::kFloat64:
      if constexpr (kWithFloat64) f(double{});
      return;
    case Dtype::kFloat16: f(Half{}); return;
    case Dtype::kBFloat16: f(BFloat16{}); return;
  }
}

// The type a kernel computes an element type in: double for double, float otherwise (16-bit
// inputs are widened).
template <typename T>
using ComputeType = std::conditional_t<std::is_same_v<T, double>, double, float>;

}  // namespace centernet_fast
