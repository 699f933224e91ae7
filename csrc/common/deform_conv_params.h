// The sizes and the border rule of one deform_conv2d call (CPU and CUDA), filled by the checked
// entry points in deform_conv.cpp from the arguments.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace centernet_fast {

// The offset gradient of a sampling point (y, x) outside the open region (-1, H) x (-1, W):
// kTorchvision, the derivative of the bilinear formula (non-zero exactly on y = -1 or x = -1);
// kDcnv2, zero (the original DCNv2 and mmcv). Nothing else depends on it.
enum class BorderRule : int32_t { kTorchvision = 0, kDcnv2 = 1 };

struct DeformConvGeometry {
  int64_t batch, channels, height, width;  // input [B, C, H, W]
  int64_t out_channels, kh, kw;            // weight [C_out, C / groups, kh, kw]
  int64_t groups, offset_groups;           // conv groups, deformable groups
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t out_h, out_w;
  BorderRule border_rule;

  // Whether the offset gradient of the point (y, x) is computed (else it is zero).
  template <typename acc_t>
  CNF_HOST_DEVICE bool offset_grad_at(acc_t y, acc_t x) const {
    return border_rule == BorderRule::kTorchvision ||
           (y > acc_t(-1) && y < static_cast<acc_t>(height) && x > acc_t(-1) &&
            x < static_cast<acc_t>(width));
  }

  int64_t taps() const { return kh * kw; }
  int64_t out_plane() const { return out_h * out_w; }
  // Rows of the column matrix: (channel, tap) pairs, the weight's last three dimensions.
  int64_t column_rows() const { return channels * kh * kw; }
};

}  // namespace centernet_fast
