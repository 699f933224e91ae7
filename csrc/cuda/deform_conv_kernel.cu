// CUDA kernels of deform_conv2d: the modulated column matrix, the offset and mask gradients, and
// the input gradient as a gather over the sampling points sorted by the pixel they touch. No
// float atomics anywhere: every output element is written by one thread that adds its terms in
// a fixed order, so all results are bit-identical run to run.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common/deform_bilinear.h"
#include "cuda/deform_conv_kernel.cuh"
#include "cuda/type_convert.cuh"

namespace centernet_fast {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t{1} << 16;  // grid-stride loops cover the rest

// The offsets (dy, dx) and the mask of sampling point q = (image_group * taps + t) * plane + l.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ void point_inputs(const scalar_t* __restrict__ offset,
                                             const scalar_t* __restrict__ mask, int64_t q,
                                             int64_t plane, acc_t& dy, acc_t& dx, acc_t& m) {
  const int64_t row = q / plane, l = q % plane;  // row = image_group * taps + t
  dy = static_cast<acc_t>(widen(offset[row * 2 * plane + l]));
  dx = static_cast<acc_t>(widen(offset[(row * 2 + 1) * plane + l]));
  m = mask != nullptr ? static_cast<acc_t>(widen(mask[q])) : acc_t(1);
}

int grid_for(int64_t total) {
  return static_cast<int>(std::min<int64_t>((total + kThreads - 1) / kThreads, kMaxBlocks));
}

#define CNF_GRID_STRIDE(var, total)                                                   \
  for (int64_t var = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;      \
       var < (total); var += static_cast<int64_t>(blockDim.x) * gridDim.x)

template <typename scalar_t, typename acc_t>
__global__ void deform_columns_kernel(DeformConvGeometry g, int64_t n,
                                      const scalar_t* __restrict__ input,
                                      const scalar_t* __restrict__ offset,
                                      const scalar_t* __restrict__ mask,
                                      acc_t* __restrict__ columns) {
  const int64_t taps = g.kh * g.kw, plane = g.out_h * g.out_w, hw = g.height * g.width;
  const int64_t width = n * plane, group_channels = g.channels / g.offset_groups;
  const int64_t total = g.channels * taps * width;
  CNF_GRID_STRIDE(e, total) {
    const int64_t rowc = e / width, col = e % width;  // rowc = c * taps + t
    const int64_t c = rowc / taps, t = rowc % taps, img = col / plane, l = col % plane;
    const int64_t q = ((img * g.offset_groups + c / group_channels) * taps + t) * plane + l;
    acc_t dy, dx, m;
    point_inputs(offset, mask, q, plane, dy, dx, m);
    const BilinearPoint<acc_t> b = locate_point(g, t, l, dy, dx);
    const scalar_t* in = input + (img * g.channels + c) * hw;
    acc_t v = 0;
    for (int k = 0; k < 4; ++k) {
      if (b.index[k] >= 0) v += (b.w[k] * m) * static_cast<acc_t>(widen(in[b.index[k]]));
    }
    columns[e] = v;
  }
}

// d/dy = mask * G * ((1 - lx) (v_10 - v_00) + lx (v_11 - v_01)),
// d/dx = mask * G * ((1 - ly) (v_01 - v_00) + ly (v_11 - v_10)), d/dmask = G * bilinear(v),
// G the column gradient, summed over the channels of the point's group in order; the offset
// gradients 0 where the border rule says so.
template <typename scalar_t, typename acc_t>
__global__ void deform_offset_mask_grad_kernel(DeformConvGeometry g, int64_t n,
                                               const scalar_t* __restrict__ input,
                                               const scalar_t* __restrict__ offset,
                                               const scalar_t* __restrict__ mask,
                                               const acc_t* __restrict__ grad_columns,
                                               scalar_t* __restrict__ grad_offset,
                                               scalar_t* __restrict__ grad_mask) {
  const int64_t taps = g.kh * g.kw, plane = g.out_h * g.out_w, hw = g.height * g.width;
  const int64_t width = n * plane, group_channels = g.channels / g.offset_groups;
  const int64_t total = n * g.offset_groups * taps * plane;
  CNF_GRID_STRIDE(q, total) {
    const int64_t row = q / plane, l = q % plane, t = row % taps;
    const int64_t image_group = row / taps;
    const int64_t img = image_group / g.offset_groups, group = image_group % g.offset_groups;
    acc_t dy, dx, m;
    point_inputs(offset, mask, q, plane, dy, dx, m);
    const BilinearPoint<acc_t> b = locate_point(g, t, l, dy, dx);
    const acc_t ly = b.ly, lx = b.lx;
    acc_t gy = 0, gx = 0, gm = 0;
    for (int64_t c = group * group_channels; c < (group + 1) * group_channels; ++c) {
      const scalar_t* in = input + (img * g.channels + c) * hw;
      const acc_t gv = grad_columns[(c * taps + t) * width + img * plane + l];
      acc_t v[4];
      for (int k = 0; k < 4; ++k) {
        v[k] = b.index[k] >= 0 ? static_cast<acc_t>(widen(in[b.index[k]])) : acc_t(0);
      }
      gy += gv * ((1 - lx) * (v[2] - v[0]) + lx * (v[3] - v[1]));
      gx += gv * ((1 - ly) * (v[1] - v[0]) + ly * (v[3] - v[2]));
      gm += gv * ((1 - ly) * ((1 - lx) * v[0] + lx * v[1]) + ly * ((1 - lx) * v[2] + lx * v[3]));
    }
    grad_offset[row * 2 * plane + l] = narrow<scalar_t>(b.offset_grad ? m * gy : acc_t(0));
    grad_offset[(row * 2 + 1) * plane + l] = narrow<scalar_t>(b.offset_grad ? m * gx : acc_t(0));
    grad_mask[q] = narrow<scalar_t>(gm);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void deform_input_grad_keys_kernel(DeformConvGeometry g, int64_t n,
                                              const scalar_t* __restrict__ offset,
                                              const scalar_t* __restrict__ mask,
                                              int64_t* __restrict__ keys,
                                              acc_t* __restrict__ weights) {
  const int64_t taps = g.kh * g.kw, plane = g.out_h * g.out_w, hw = g.height * g.width;
  const int64_t total = n * g.offset_groups * taps * plane, outside = n * g.offset_groups * hw;
  CNF_GRID_STRIDE(q, total) {
    const int64_t row = q / plane, l = q % plane, t = row % taps, image_group = row / taps;
    acc_t dy, dx, m;
    point_inputs(offset, mask, q, plane, dy, dx, m);
    const BilinearPoint<acc_t> b = locate_point(g, t, l, dy, dx);
    for (int k = 0; k < 4; ++k) {
      keys[4 * q + k] = b.index[k] >= 0 ? image_group * hw + b.index[k] : outside;
      weights[4 * q + k] = b.w[k] * m;
    }
  }
}

template <typename scalar_t, typename acc_t>
__global__ void deform_input_grad_gather_kernel(DeformConvGeometry g, int64_t n,
                                                const acc_t* __restrict__ grad_columns,
                                                const int64_t* __restrict__ order,
                                                const int64_t* __restrict__ starts,
                                                const acc_t* __restrict__ weights,
                                                scalar_t* __restrict__ grad_input) {
  const int64_t taps = g.kh * g.kw, plane = g.out_h * g.out_w, hw = g.height * g.width;
  const int64_t width = n * plane, group_channels = g.channels / g.offset_groups;
  const int64_t total = n * g.channels * hw;
  CNF_GRID_STRIDE(e, total) {  // e = (img * C + c) * hw + pixel
    const int64_t pixel = e % hw, img_c = e / hw, c = img_c % g.channels, img = img_c / g.channels;
    const int64_t segment = (img * g.offset_groups + c / group_channels) * hw + pixel;
    const acc_t* gcol = grad_columns + c * taps * width;  // row (c, 0)
    acc_t sum = 0;
    for (int64_t s = starts[segment], end = starts[segment + 1]; s < end; ++s) {
      const int64_t entry = order[s], q = entry / 4;
      const int64_t l = q % plane, t = (q / plane) % taps;
      sum += weights[entry] * gcol[t * width + img * plane + l];
    }
    grad_input[e] = narrow<scalar_t>(sum);
  }
}

// Launches the kernel that `launch(scalar_t{}, acc_t{}, grid)` starts for the chunk's dtype, on
// a grid covering `total` grid-stride items; nothing to do (and no launch) when total is 0.
template <typename F>
cudaError_t launch_over(const DeformConvChunk& c, int64_t total, F&& launch) {
  if (total == 0) return cudaSuccess;
  dispatch_dtype<__half, __nv_bfloat16>(c.dtype, [&](auto s) {
    launch(s, ComputeType<decltype(s)>{}, grid_for(total));
  });
  return cudaGetLastError();
}

// Sampling points of a chunk: one per (image, offset group, tap, output pixel).
int64_t sampling_points(const DeformConvChunk& c) {
  const DeformConvGeometry& g = c.g;
  return c.n * g.offset_groups * g.kh * g.kw * g.out_h * g.out_w;
}

}  // namespace

cudaError_t launch_deform_columns(const DeformConvChunk& c, void* columns, cudaStream_t stream) {
  const DeformConvGeometry& g = c.g;
  return launch_over(c, g.channels * g.kh * g.kw * c.n * g.out_h * g.out_w,
                     [&](auto s, auto a, int grid) {
    using scalar_t = decltype(s);
    using acc_t = decltype(a);
    deform_columns_kernel<scalar_t, acc_t><<<grid, kThreads, 0, stream>>>(
        g, c.n, static_cast<const scalar_t*>(c.input), static_cast<const scalar_t*>(c.offset),
        static_cast<const scalar_t*>(c.mask), static_cast<acc_t*>(columns));
  });
}

cudaError_t launch_deform_offset_mask_grad(const DeformConvChunk& c, const void* grad_columns,
                                           void* grad_offset, void* grad_mask,
                                           cudaStream_t stream) {
  return launch_over(c, sampling_points(c), [&](auto s, auto a, int grid) {
    using scalar_t = decltype(s);
    using acc_t = decltype(a);
    deform_offset_mask_grad_kernel<scalar_t, acc_t><<<grid, kThreads, 0, stream>>>(
        c.g, c.n, static_cast<const scalar_t*>(c.input), static_cast<const scalar_t*>(c.offset),
        static_cast<const scalar_t*>(c.mask), static_cast<const acc_t*>(grad_columns),
        static_cast<scalar_t*>(grad_offset), static_cast<scalar_t*>(grad_mask));
  });
}

cudaError_t launch_deform_input_grad_keys(const DeformConvChunk& c, int64_t* keys, void* weights,
                                          cudaStream_t stream) {
  return launch_over(c, sampling_points(c), [&](auto s, auto a, int grid) {
    using scalar_t = decltype(s);
    using acc_t = decltype(a);
    deform_input_grad_keys_kernel<scalar_t, acc_t><<<grid, kThreads, 0, stream>>>(
        c.g, c.n, static_cast<const scalar_t*>(c.offset), static_cast<const scalar_t*>(c.mask),
        keys, static_cast<acc_t*>(weights));
  });
}

cudaError_t launch_deform_input_grad_gather(const DeformConvChunk& c, const void* grad_columns,
                                            const int64_t* order, const int64_t* starts,
                                            const void* weights, void* grad_input,
                                            cudaStream_t stream) {
  const DeformConvGeometry& g = c.g;
  return launch_over(c, c.n * g.channels * g.height * g.width, [&](auto s, auto a, int grid) {
    using scalar_t = decltype(s);
    using acc_t = decltype(a);
    deform_input_grad_gather_kernel<scalar_t, acc_t><<<grid, kThreads, 0, stream>>>(
        g, c.n, static_cast<const acc_t*>(grad_columns), order, starts,
        static_cast<const acc_t*>(weights), static_cast<scalar_t*>(grad_input));
  });
}

}  // namespace centernet_fast
