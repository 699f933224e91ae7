// The per-chunk loops of the CPU deform_conv2d: the bilinear sampling table, the column gather,
// and the scatters of the column gradient to the input, the offsets and the mask.
//
// Every sampling point (image, deformable group, tap, output pixel) is shared by the C / dg
// channels of its group, so its four neighbour indices and modulated bilinear weights are
// computed once into a table; the channel loops then only gather or scatter four values.
#pragma once

#include <ATen/Parallel.h>

#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/deform_bilinear.h"
#include "common/deform_conv_params.h"

namespace centernet_fast {
namespace deform_cpu {

// One sampling point. index[k] is the pixel y * W + x of neighbour k = (dy, dx) in
// {(0,0), (0,1), (1,0), (1,1)} of (floor(y), floor(x)), or -1 outside the image (a zero pixel).
// weight[k] is its bilinear weight times the mask; ly, lx the fractional parts of y and x;
// offset_grad false where the border rule makes the point's offset gradient zero.
template <typename acc_t>
struct Sample {
  int32_t index[4];
  acc_t weight[4];
  acc_t ly, lx, mask;
  bool offset_grad;
};

// Pointers into one chunk of n images; offsets and mask are the chunk's first image's.
template <typename scalar_t, typename acc_t>
struct ChunkPointers {
  const scalar_t* input;    // [n, C, H, W]
  const scalar_t* offset;   // [n, 2 dg taps, H_out, W_out]
  const scalar_t* mask;     // [n, dg taps, H_out, W_out] or nullptr (ones)
  Sample<acc_t>* samples;   // [n, dg, taps, H_out * W_out]
  acc_t* columns;           // [C * taps, n * H_out * W_out], row (c, tap)
  int64_t n;
};

template <typename scalar_t, typename acc_t>
void build_samples(const DeformConvGeometry& g, const ChunkPointers<scalar_t, acc_t>& p) {
  const int64_t taps = g.taps(), plane = g.out_plane();
  at::parallel_for(0, p.n * g.offset_groups * taps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {  // row = (image, group, tap)
      const int64_t t = row % taps;
      const int64_t image_group = row / taps;
      const scalar_t* dy = p.offset + (image_group * taps + t) * 2 * plane;
      const scalar_t* dx = dy + plane;
      const scalar_t* m = p.mask ? p.mask + row * plane : nullptr;
      Sample<acc_t>* s = p.samples + row * plane;
      for (int64_t l = 0; l < plane; ++l) {
        const BilinearPoint<acc_t> b = locate_point(g, t, l, static_cast<acc_t>(dy[l]),
                                                    static_cast<acc_t>(dx[l]));
        const acc_t mv = m ? static_cast<acc_t>(m[l]) : acc_t(1);
        Sample<acc_t>& out = s[l];
        out.mask = mv;
        out.offset_grad = b.offset_grad;
        out.ly = b.ly, out.lx = b.lx;
        for (int k = 0; k < 4; ++k) {
          // H * W < 2^31 is checked, so a pixel index fits 32 bits.
          out.index[k] = static_cast<int32_t>(b.index[k]);
          out.weight[k] = b.index[k] >= 0 ? b.w[k] * mv : acc_t(0);
        }
      }
    }
  });
}

// Channels handled together per pass over a sampling row: the table entry of a point is loaded
// once for all of them. The blocks depend on the sizes only, never on the thread count.
constexpr int64_t kChannelBlock = 8;

// The channel blocks of one image: (group, first channel, end channel), never across groups.
inline int64_t channel_blocks(const DeformConvGeometry& g) {
  const int64_t group_channels = g.channels / g.offset_groups;
  return g.offset_groups * ((group_channels + kChannelBlock - 1) / kChannelBlock);
}

inline void channel_block(const DeformConvGeometry& g, int64_t block, int64_t& group,
                          int64_t& c_begin, int64_t& c_end) {
  const int64_t group_channels = g.channels / g.offset_groups;
  const int64_t per_group = (group_channels + kChannelBlock - 1) / kChannelBlock;
  group = block / per_group;
  c_begin = group * group_channels + (block % per_group) * kChannelBlock;
  c_end = std::min(c_begin + kChannelBlock, (group + 1) * group_channels);
}

// The bilinear value of one point in one plane: neighbours outside the image (index -1) add
// exactly zero whatever the plane holds at the clamped index.
template <typename scalar_t, typename acc_t>
inline acc_t bilinear(const Sample<acc_t>& s, const scalar_t* in) {
  acc_t v = 0;
  for (int k = 0; k < 4; ++k) {
    const int32_t idx = s.index[k];
    const acc_t x = static_cast<acc_t>(in[idx >= 0 ? idx : 0]);
    v += idx >= 0 ? s.weight[k] * x : acc_t(0);
  }
  return v;
}

// columns[c * taps + t][img * plane + l] = sum_k weight[k] * input[img, c, index[k]].
template <typename scalar_t, typename acc_t>
void gather_columns(const DeformConvGeometry& g, const ChunkPointers<scalar_t, acc_t>& p) {
  const int64_t taps = g.taps(), plane = g.out_plane(), hw = g.height * g.width;
  const int64_t width = p.n * plane, blocks = channel_blocks(g);
  at::parallel_for(0, p.n * blocks * taps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {  // task = (image, channel block, tap)
      const int64_t t = task % taps, img = task / taps / blocks, block = task / taps % blocks;
      int64_t group, c0, c1;
      channel_block(g, block, group, c0, c1);
      const Sample<acc_t>* s = p.samples + ((img * g.offset_groups + group) * taps + t) * plane;
      const scalar_t* in = p.input + img * g.channels * hw;
      acc_t* col = p.columns + t * width + img * plane;
      const int64_t row_stride = taps * width;
      for (int64_t l = 0; l < plane; ++l) {
        const Sample<acc_t> sl = s[l];
        for (int64_t c = c0; c < c1; ++c) {
          col[c * row_stride + l] = bilinear(sl, in + c * hw);
        }
      }
    }
  });
}

// grad_input[img, c, index[k]] += weight[k] * grad_columns[c * taps + t][img * plane + l]: each
// task owns one (image, channel block) and adds in (tap, pixel) order per plane, so the sums
// are deterministic. grad_input is the chunk's [n, C, H, W] in acc_t.
template <typename scalar_t, typename acc_t>
void scatter_input(const DeformConvGeometry& g, const ChunkPointers<scalar_t, acc_t>& p,
                   const acc_t* grad_columns, acc_t* grad_input) {
  const int64_t taps = g.taps(), plane = g.out_plane(), hw = g.height * g.width;
  const int64_t width = p.n * plane, blocks = channel_blocks(g);
  at::parallel_for(0, p.n * blocks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {  // task = (image, channel block)
      const int64_t img = task / blocks, block = task % blocks;
      int64_t group, c0, c1;
      channel_block(g, block, group, c0, c1);
      acc_t* out = grad_input + img * g.channels * hw;
      for (int64_t t = 0; t < taps; ++t) {
        const Sample<acc_t>* s = p.samples + ((img * g.offset_groups + group) * taps + t) * plane;
        const acc_t* gcol = grad_columns + t * width + img * plane;
        const int64_t row_stride = taps * width;
        for (int64_t l = 0; l < plane; ++l) {
          const Sample<acc_t> sl = s[l];
          for (int64_t c = c0; c < c1; ++c) {
            const acc_t gv = gcol[c * row_stride + l];
            acc_t* o = out + c * hw;
            for (int k = 0; k < 4; ++k) {
              const int32_t idx = sl.index[k];
              if (idx >= 0) o[idx] += sl.weight[k] * gv;
            }
          }
        }
      }
    }
  });
}

// The offset and mask gradients of each sampling point: with v_k the neighbour values (0
// outside) and G the column gradient, summed over the channels of the point's group (the
// offset gradients 0 where the border rule says so),
//   d/dy = mask * G * ((1 - lx) (v_10 - v_00) + lx (v_11 - v_01)),
//   d/dx = mask * G * ((1 - ly) (v_01 - v_00) + ly (v_11 - v_10)),
//   d/dmask = G * bilinear(v).
// Each task owns one (image, group, tap) row and adds channels in order: deterministic.
template <typename scalar_t, typename acc_t>
void offset_mask_gradients(const DeformConvGeometry& g, const ChunkPointers<scalar_t, acc_t>& p,
                           const acc_t* grad_columns, scalar_t* grad_offset, scalar_t* grad_mask) {
  const int64_t taps = g.taps(), plane = g.out_plane(), hw = g.height * g.width;
  const int64_t group_channels = g.channels / g.offset_groups, width = p.n * plane;
  at::parallel_for(0, p.n * g.offset_groups * taps, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> acc(3 * plane);
    for (int64_t row = begin; row < end; ++row) {  // row = (image, group, tap)
      const int64_t t = row % taps, img = row / taps / g.offset_groups;
      const int64_t group = row / taps % g.offset_groups;
      const Sample<acc_t>* s = p.samples + row * plane;
      acc_t *gy = acc.data(), *gx = gy + plane, *gm = gx + plane;
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t c = group * group_channels; c < (group + 1) * group_channels; ++c) {
        const scalar_t* in = p.input + (img * g.channels + c) * hw;
        const acc_t* gcol = grad_columns + (c * taps + t) * width + img * plane;
        for (int64_t l = 0; l < plane; ++l) {
          acc_t v[4];
          for (int k = 0; k < 4; ++k) {
            const int32_t idx = s[l].index[k];
            const acc_t x = static_cast<acc_t>(in[idx >= 0 ? idx : 0]);
            v[k] = idx >= 0 ? x : acc_t(0);
          }
          const acc_t ly = s[l].ly, lx = s[l].lx, gv = gcol[l];
          gy[l] += gv * ((1 - lx) * (v[2] - v[0]) + lx * (v[3] - v[1]));
          gx[l] += gv * ((1 - ly) * (v[1] - v[0]) + ly * (v[3] - v[2]));
          gm[l] += gv * ((1 - ly) * ((1 - lx) * v[0] + lx * v[1]) +
                         ly * ((1 - lx) * v[2] + lx * v[3]));
        }
      }
      scalar_t* out_y = grad_offset + (row * 2) * plane;
      scalar_t* out_x = out_y + plane;
      scalar_t* out_m = grad_mask + row * plane;
      for (int64_t l = 0; l < plane; ++l) {
        const bool on = s[l].offset_grad;
        out_y[l] = on ? static_cast<scalar_t>(s[l].mask * gy[l]) : scalar_t(0);
        out_x[l] = on ? static_cast<scalar_t>(s[l].mask * gx[l]) : scalar_t(0);
        out_m[l] = static_cast<scalar_t>(gm[l]);
      }
    }
  });
}

}  // namespace deform_cpu
}  // namespace centernet_fast
