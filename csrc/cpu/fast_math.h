// exp, log and log1p written as branch-free float arithmetic so that the compiler vectorises the
// loops that call them (calls into libm keep a loop scalar). Accurate to a few ulp on the ranges
// the focal loss uses; the double versions defer to libm (double inputs are for gradcheck).
#pragma once

#include <cmath>
#include <cstdint>

#include "common/float_bits.h"
#include "common/host_device.h"

namespace centernet_fast {
namespace cpu {

// exp(x) for x <= 0: 0 below the smallest normal result, NaN for NaN.
// x = n ln2 + f with |f| <= ln2/2 (n by round-to-nearest through the 1.5 * 2^23 trick, ln2 split
// in two so that n ln2 is exact), exp(f) by a degree-7 polynomial, times 2^n built in the bits.
CNF_HOST_DEVICE float exp_nonpositive(float x) {
  constexpr float kMin = -87.0f;  // exp(-87) ~ 1.6e-38, just above the smallest normal float
  const float xc = x >= kMin ? x : kMin;  // NaN also maps to kMin; restored below
  const float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float f = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float poly = 1.9875691500e-4f;
  poly = poly * f + 1.3981999507e-3f;
  poly = poly * f + 8.3334519073e-3f;
  poly = poly * f + 4.1665795894e-2f;
  poly = poly * f + 1.6666665459e-1f;
  poly = poly * f + 5.0000001201e-1f;
  const float ef = (poly * f) * f + f + 1.0f;
  const float scale = bits_float(static_cast<uint32_t>((static_cast<int32_t>(n) + 127) << 23));
  const float y = ef * scale;
  return x != x ? x : (x < kMin ? 0.0f : y);
}

// log(x) for finite x > 0 (normal floats); NaN for NaN. x = m 2^k with m in [sqrt(1/2), sqrt(2)),
// log(m) = log1p(m - 1) by a degree-9 polynomial, plus k ln2 in two parts.
CNF_HOST_DEVICE float log_positive(float x) {
  const int32_t bits = static_cast<int32_t>(float_bits(x));
  int32_t k = ((bits >> 23) & 0xff) - 126;
  float m = bits_float(static_cast<uint32_t>((bits & 0x007fffff) | 0x3f000000));  // in [0.5, 1)
  const bool small = m < 0.707106781f;
  k = small ? k - 1 : k;
  m = small ? (m + m) - 1.0f : m - 1.0f;
  const float z = m * m;
  float poly = 7.0376836292e-2f;
  poly = poly * m - 1.1514610310e-1f;
  poly = poly * m + 1.1676998740e-1f;
  poly = poly * m - 1.2420140846e-1f;
  poly = poly * m + 1.4249322787e-1f;
  poly = poly * m - 1.6668057665e-1f;
  poly = poly * m + 2.0000714765e-1f;
  poly = poly * m - 2.4999993993e-1f;
  poly = poly * m + 3.3333331174e-1f;
  const float kf = static_cast<float>(k);
  float y = (poly * m) * z;
  y = y + kf * -2.12194440e-4f;
  y = y - 0.5f * z;
  const float out = (m + y) + kf * 0.693359375f;
  return x != x ? x : out;
}

// log(1 + u) for u in [0, 1], accurate also when 1 + u rounds to 1: the rounding error of
// v = 1 + u is corrected to first order, log1p(u) = log(v) - ((v - 1) - u) / v.
CNF_HOST_DEVICE float log1p_unit(float u) {
  const float v = 1.0f + u;
  return log_positive(v) - ((v - 1.0f) - u) / v;
}

// The Math policies of focal_term on the CPU.
struct FastFloatMath {
  CNF_HOST_DEVICE static float exp_nonpositive(float x) { return cpu::exp_nonpositive(x); }
  CNF_HOST_DEVICE static float log(float x) { return log_positive(x); }
  CNF_HOST_DEVICE static float log1p(float x) { return log1p_unit(x); }
  CNF_HOST_DEVICE static float pow(float y, float e) { return std::pow(y, e); }
};

struct LibmDoubleMath {
  CNF_HOST_DEVICE static double exp_nonpositive(double x) { return std::exp(x); }
  CNF_HOST_DEVICE static double log(double x) { return std::log(x); }
  CNF_HOST_DEVICE static double log1p(double x) { return std::log1p(x); }
  CNF_HOST_DEVICE static double pow(double y, double e) { return std::pow(y, e); }
};

}  // namespace cpu
}  // namespace centernet_fast
