// The bilinear sampling point of deform_conv2d, shared by the CPU and CUDA kernels: where a
// kernel tap lands for one output pixel and its offset, which of the four neighbouring pixels
// lie inside the image, their bilinear weights, and whether the point's offset gradient is
// computed under the call's border rule.
#pragma once

#include <cmath>
#include <cstdint>

#include "common/deform_conv_params.h"
#include "common/host_device.h"

namespace centernet_fast {

CNF_HOST_DEVICE float floor_of(float v) { return floorf(v); }
CNF_HOST_DEVICE double floor_of(double v) { return floor(v); }

// The neighbours k = (dy, dx) in {(0,0), (0,1), (1,0), (1,1)} of (floor(y), floor(x)):
// index[k] = y * W + x, or -1 outside the image; w[k] the bilinear weight (0 outside); ly, lx
// the fractional parts of y and x; offset_grad false where the border rule makes the point's
// offset gradient zero.
template <typename acc_t>
struct BilinearPoint {
  int64_t index[4];
  acc_t w[4];
  acc_t ly, lx;
  bool offset_grad;
};

// The point of tap t (= i * kw + j) and output pixel l (= oy * W_out + ox) displaced by (dy, dx):
// y = oy * stride_h - pad_h + i * dilation_h + dy, x likewise.
template <typename acc_t>
CNF_HOST_DEVICE BilinearPoint<acc_t> locate_point(const DeformConvGeometry& g, int64_t t,
                                                  int64_t l, acc_t dy, acc_t dx) {
  const int64_t i = t / g.kw, j = t % g.kw, oy = l / g.out_w, ox = l % g.out_w;
  const acc_t y = static_cast<acc_t>(oy * g.stride_h - g.pad_h + i * g.dilation_h) + dy;
  const acc_t x = static_cast<acc_t>(ox * g.stride_w - g.pad_w + j * g.dilation_w) + dx;
  BilinearPoint<acc_t> b;
  b.offset_grad = g.offset_grad_at(y, x);
  // Beyond one pixel outside the image every neighbour is outside (this also keeps floor() of
  // huge or NaN positions away from the integer conversion).
  if (!(y > acc_t(-2) && y < static_cast<acc_t>(g.height + 1) && x > acc_t(-2) &&
        x < static_cast<acc_t>(g.width + 1))) {
    for (int k = 0; k < 4; ++k) b.index[k] = -1, b.w[k] = acc_t(0);
    b.ly = b.lx = acc_t(0);
    return b;
  }
  const acc_t fy = floor_of(y), fx = floor_of(x);
  const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  const acc_t ly = y - fy, lx = x - fx, hy = acc_t(1) - ly, hx = acc_t(1) - lx;
  b.ly = ly, b.lx = lx;
  const acc_t w[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
  for (int k = 0; k < 4; ++k) {
    const int64_t yy = y0 + (k >> 1), xx = x0 + (k & 1);
    const bool inside = yy >= 0 && yy < g.height && xx >= 0 && xx < g.width;
    b.index[k] = inside ? yy * g.width + xx : -1;
    b.w[k] = inside ? w[k] : acc_t(0);
  }
  return b;
}

}  // namespace centernet_fast
