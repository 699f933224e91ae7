// Shim of cuda_bf16.h for the CPU emulation: __nv_bfloat16 as a plain 16-bit value with the
// explicit conversions only (see cuda_fp16.h).
#pragma once

#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
  unsigned short __x;
};

inline float __bfloat162float(__nv_bfloat16 h) {
  const uint32_t bits = uint32_t{h.__x} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
// Round to nearest even; NaN becomes the canonical quiet NaN 0x7fff, as CUDA's conversion.
inline __nv_bfloat16 __float2bfloat16_rn(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{0x7fff};
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return __nv_bfloat16{static_cast<unsigned short>(bits >> 16)};
}
inline __nv_bfloat16 __float2bfloat16(float v) { return __float2bfloat16_rn(v); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
