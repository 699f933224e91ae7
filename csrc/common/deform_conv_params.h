// The sizes of one deform_conv2d call (CPU and CUDA), filled by the checked entry points in
// deform_conv.cpp from the argument shapes.
#pragma once

#include <cstdint>

namespace centernet_fast {

struct DeformConvGeometry {
  int64_t batch, channels, height, width;  // input [B, C, H, W]
  int64_t out_channels, kh, kw;            // weight [C_out, C / groups, kh, kw]
  int64_t groups, offset_groups;           // conv groups, deformable groups
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  int64_t out_h, out_w;

  int64_t taps() const { return kh * kw; }
  int64_t out_plane() const { return out_h * out_w; }
  // Rows of the column matrix: (channel, tap) pairs, the weight's last three dimensions.
  int64_t column_rows() const { return channels * kh * kw; }
};

}  // namespace centernet_fast
