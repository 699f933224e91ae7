// Conversions between the kernels' storage types and their compute types. Explicit, because
// torch builds CUDA code with the implicit 16-bit conversions disabled.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

namespace centernet_fast {

// A stored value in its compute type: 16-bit types widen to float, float and double stay.
__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ double widen(double v) { return v; }
__device__ __forceinline__ float widen(__half v) { return __half2float(v); }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return __bfloat162float(v); }

// A computed value stored as Out, rounded once to nearest even: 16-bit types through float (the
// kernels compute 16-bit inputs in float), others by a plain conversion.
template <typename Out, typename A>
__device__ __forceinline__ Out narrow(A v) {
  if constexpr (std::is_same_v<Out, __half>) {
    return __float2half_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<Out, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else {
    return static_cast<Out>(v);
  }
}

}  // namespace centernet_fast
