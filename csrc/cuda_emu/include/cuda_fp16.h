// Shim of cuda_fp16.h for the CPU emulation: __half as a plain 16-bit value with the explicit,
// round-to-nearest-even conversions only, as torch builds CUDA code with the implicit ones
// disabled (__CUDA_NO_HALF_CONVERSIONS__).
#pragma once

#include <cstring>

struct __half {
  unsigned short __x;
};

inline float __half2float(__half h) {
  _Float16 f;
  std::memcpy(&f, &h.__x, sizeof f);
  return static_cast<float>(f);
}
inline __half __float2half_rn(float v) {
  const _Float16 f = static_cast<_Float16>(v);  // IEEE conversion: round to nearest even
  __half h;
  std::memcpy(&h.__x, &f, sizeof f);
  return h;
}
inline __half __float2half(float v) { return __float2half_rn(v); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short v) { return __half{v}; }
