// Per-object math of CenterNet's Gaussian heatmap targets, shared by the CPU and CUDA kernels.
//
// Everything here is plain C++ on scalars so that one definition serves both compilers: the CPU and
// CUDA results must be bit-identical, and both must reproduce the original float64 numpy code. That
// is why the double arithmetic goes through dmul/dadd/... : on the device they are the
// round-to-nearest intrinsics, which nvcc may not fuse into FMAs (a fused multiply-add rounds once
// instead of twice and can move an exactly integral radius to the wrong side of an integer).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "common/exact_math.h"
#include "common/host_device.h"

namespace centernet_fast {

enum class RadiusMode : int32_t {
  kCenterNet = 0,   // the original CenterNet/CornerNet formula, reproduced as written
  kCorrected = 1,   // the corrected derivation (mmdetection's gaussian_radius)
  kElliptical = 2,  // TTFNet: radii alpha*h/2 and alpha*w/2, one sigma per axis
};

// TTFNet's alpha for the elliptical Gaussian.
constexpr double kEllipticalAlpha = 0.54;

// Python's min(a, b, c): keep the first of equal values, replace only on a strict "<".
CNF_HOST_DEVICE double python_min3(double a, double b, double c) {
  double m = a;
  if (b < m) m = b;
  if (c < m) m = c;
  return m;
}

// The Gaussian radius of a height x width box (float64 sizes) for the two circular modes; the
// three cases of CornerNet's derivation, each a quadratic a*r^2 - b*r + c = 0, written in the
// original order of operations.
//   kCenterNet: as CenterNet writes it, deviations included: the larger root of the first two
//     quadratics, and every root divided by 2 instead of 2a.
//   kCorrected: the corrected derivation (mmdetection's gaussian_radius): the smaller roots and
//     the 2a divisors.
CNF_HOST_DEVICE double gaussian_radius(double height, double width, double min_overlap,
                                       RadiusMode mode) {
  const bool corrected = mode == RadiusMode::kCorrected;
  const double hw_sum = dadd(height, width);
  // case 1: a1 = 1, b1 = h + w, c1 = w*h*(1-mo)/(1+mo)
  const double b1 = hw_sum;
  const double c1 = ddiv(dmul(dmul(width, height), dsub(1.0, min_overlap)), dadd(1.0, min_overlap));
  const double sq1 = dsqrt(dsub(dmul(b1, b1), dmul(4.0, c1)));
  const double r1 = corrected ? ddiv(dsub(b1, sq1), 2.0) : ddiv(dadd(b1, sq1), 2.0);
  // case 2: a2 = 4, b2 = 2*(h + w), c2 = (1-mo)*w*h
  const double b2 = dmul(2.0, hw_sum);
  const double c2 = dmul(dmul(dsub(1.0, min_overlap), width), height);
  const double sq2 = dsqrt(dsub(dmul(b2, b2), dmul(16.0, c2)));
  const double r2 = corrected ? ddiv(dsub(b2, sq2), 8.0) : ddiv(dadd(b2, sq2), 2.0);
  // case 3: a3 = 4*mo, b3 = -2*mo*(h + w), c3 = (mo-1)*w*h
  const double a3 = dmul(4.0, min_overlap);
  const double b3 = dmul(dmul(-2.0, min_overlap), hw_sum);
  const double c3 = dmul(dmul(dsub(min_overlap, 1.0), width), height);
  const double sq3 = dsqrt(dsub(dmul(b3, b3), dmul(dmul(4.0, a3), c3)));
  const double r3 = ddiv(dadd(b3, sq3), corrected ? dmul(2.0, a3) : 2.0);
  return python_min3(r1, r2, r3);
}

// What one annotated object contributes to the targets.
struct ObjectTarget {
  bool valid;           // false: absent (padding, non-finite, empty after clipping); slot is zero
  int32_t label;
  int32_t cx, cy;       // integer centre ct_int (truncated)
  int32_t rx, ry;       // Gaussian radii in pixels (equal unless elliptical)
  float w, h;           // box size after clipping
  float reg_x, reg_y;   // ct - ct_int
  double two_sigma_sq_x, two_sigma_sq_y;  // 2*sigma*sigma per axis, sigma = diameter / 6
};

// Python's int() of a non-negative double, clamped at 0 like max(0, int(r)).
CNF_HOST_DEVICE int32_t truncate_radius(double r) {
  return r > 0.0 ? static_cast<int32_t>(r) : 0;
}

CNF_HOST_DEVICE bool is_finite(float v) {
#if defined(__CUDA_ARCH__)
  return isfinite(v);
#else
  return std::isfinite(v);
#endif
}

CNF_HOST_DEVICE float clampf(float v, float lo, float hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// 2*sigma*sigma for a window of radius r, sigma = (2r+1)/6, in the original order ((2*s)*s).
CNF_HOST_DEVICE double two_sigma_sq(int32_t r) {
  const double sigma = ddiv(static_cast<double>(2 * r + 1), 6.0);
  return dmul(dmul(2.0, sigma), sigma);
}

// Describes object (box, label) on an H x W output map: clip to the map, compute size, centre and
// radius exactly as the original ctdet dataset does (float32 box arithmetic, float64 radius).
CNF_HOST_DEVICE ObjectTarget describe_object(const float* box, int64_t label, int64_t height,
                                             int64_t width, double min_overlap, RadiusMode mode) {
  ObjectTarget t{};
  t.valid = false;
  if (label < 0) return t;
  for (int i = 0; i < 4; ++i) {
    if (!is_finite(box[i])) return t;
  }
  const float max_x = static_cast<float>(width - 1);
  const float max_y = static_cast<float>(height - 1);
  const float x1 = clampf(box[0], 0.f, max_x), x2 = clampf(box[2], 0.f, max_x);
  const float y1 = clampf(box[1], 0.f, max_y), y2 = clampf(box[3], 0.f, max_y);
  const float h = y2 - y1, w = x2 - x1;
  if (!(h > 0.f && w > 0.f)) return t;

  if (mode == RadiusMode::kElliptical) {
    t.ry = truncate_radius(dmul(ddiv(static_cast<double>(h), 2.0), kEllipticalAlpha));
    t.rx = truncate_radius(dmul(ddiv(static_cast<double>(w), 2.0), kEllipticalAlpha));
  } else {
    const double r = gaussian_radius(std::ceil(static_cast<double>(h)),
                                     std::ceil(static_cast<double>(w)), min_overlap, mode);
    t.rx = t.ry = truncate_radius(r);
  }
  t.two_sigma_sq_x = two_sigma_sq(t.rx);
  t.two_sigma_sq_y = two_sigma_sq(t.ry);

  const float ct_x = (x1 + x2) / 2.f, ct_y = (y1 + y2) / 2.f;
  t.cx = static_cast<int32_t>(ct_x);
  t.cy = static_cast<int32_t>(ct_y);
  t.reg_x = ct_x - static_cast<float>(t.cx);
  t.reg_y = ct_y - static_cast<float>(t.cy);
  t.w = w;
  t.h = h;
  t.label = static_cast<int32_t>(label);
  t.valid = true;
  return t;
}

// Gaussian value at offset (dx, dy) from the centre, as float32; 0 where the float64 value is
// below eps * peak (the peak is exp(0) = 1). Circular modes use the original expression
// -(x*x + y*y) / (2*sigma*sigma); elliptical uses TTFNet's -(x*x/(2sx*sx) + y*y/(2sy*sy)).
CNF_HOST_DEVICE float gaussian_value(const ObjectTarget& t, int32_t dx, int32_t dy,
                                     bool elliptical) {
  const double xx = static_cast<double>(dx) * dx, yy = static_cast<double>(dy) * dy;  // exact
  const double exponent = elliptical
                              ? -dadd(ddiv(xx, t.two_sigma_sq_x), ddiv(yy, t.two_sigma_sq_y))
                              : ddiv(-dadd(xx, yy), t.two_sigma_sq_x);
  const double g = std::exp(exponent);
  return g < DBL_EPSILON ? 0.f : static_cast<float>(g);
}

// The clipped window of the Gaussian on the map: offsets dx in [-left, right), dy in [-top, bottom).
struct Window {
  int32_t left, right, top, bottom;
};

CNF_HOST_DEVICE Window clipped_window(const ObjectTarget& t, int64_t height, int64_t width) {
  Window win;
  win.left = t.cx < t.rx ? t.cx : t.rx;
  win.right = (width - t.cx) < (t.rx + 1) ? static_cast<int32_t>(width - t.cx) : t.rx + 1;
  win.top = t.cy < t.ry ? t.cy : t.ry;
  win.bottom = (height - t.cy) < (t.ry + 1) ? static_cast<int32_t>(height - t.cy) : t.ry + 1;
  return win;
}

}  // namespace centernet_fast
