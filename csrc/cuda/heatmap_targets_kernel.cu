// CUDA kernels of ctdet_targets and gaussian_radius.
//
// ctdet_targets: one warp per object slot, the whole batch in one launch. Each warp describes its
// object (the same code as the CPU kernel), one lane writes the slot, and the lanes stride over the
// object's clipped Gaussian window, combining with the heatmap by atomic max. The values are
// non-negative floats, whose order equals the order of their bit patterns as signed ints, so an
// integer atomicMax is an exact float max; max is order-independent, so the result is deterministic.
#include "cuda/heatmap_targets_kernel.cuh"

#include <algorithm>

namespace centernet_fast {
namespace {

constexpr int kWarpSize = 32;
constexpr int kWarpsPerBlock = 8;

__global__ void ctdet_targets_kernel(CtdetTargetsParams p) {
  const int64_t slot = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (slot >= p.batch * p.max_objs) return;
  const int64_t b = slot / p.max_objs, k = slot % p.max_objs;

  const ObjectTarget t = describe_slot(p, b, k);
  if (lane == 0) write_slot(p, b, k, t);
  if (!t.valid) return;

  const bool elliptical = p.mode == RadiusMode::kElliptical;
  const Window win = clipped_window(t, p.height, p.width);
  // The clipped window lies inside the map, and H * W < 2^31 is checked, so int32 is enough.
  const int32_t win_w = win.left + win.right;
  const int32_t win_area = win_w * (win.top + win.bottom);
  int* plane = reinterpret_cast<int*>(p.hm + (b * p.num_classes + t.label) * p.height * p.width);
  for (int32_t i = lane; i < win_area; i += kWarpSize) {
    const int32_t dy = i / win_w - win.top, dx = i % win_w - win.left;
    const float v = gaussian_value(t, dx, dy, elliptical);
    if (v > 0.f) {
      atomicMax(plane + static_cast<int64_t>(t.cy + dy) * p.width + (t.cx + dx), __float_as_int(v));
    }
  }
}

__global__ void gaussian_radius_kernel(const double* height, const double* width, double* out,
                                       int64_t n, double min_overlap, RadiusMode mode) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = gaussian_radius(height[i], width[i], min_overlap, mode);
  }
}

}  // namespace

cudaError_t launch_ctdet_targets(const CtdetTargetsParams& p, cudaStream_t stream) {
  const int64_t slots = p.batch * p.max_objs;
  if (slots == 0) return cudaSuccess;
  const int64_t blocks = (slots + kWarpsPerBlock - 1) / kWarpsPerBlock;
  ctdet_targets_kernel<<<static_cast<unsigned>(blocks), kWarpsPerBlock * kWarpSize, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_gaussian_radius(const double* height, const double* width, double* out,
                                   int64_t n, double min_overlap, RadiusMode mode,
                                   cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 65535);
  gaussian_radius_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      height, width, out, n, min_overlap, mode);
  return cudaGetLastError();
}

}  // namespace centernet_fast
