// CUDA kernels of the focal loss: a two-stage deterministic reduction (fixed grid, fixed order
// within threads, warps and blocks; no float atomics) and an elementwise gradient kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "common/focal_loss_dispatch.h"
#include "common/focal_loss_math.h"
#include "cuda/focal_loss_kernel.cuh"
#include "cuda/type_convert.cuh"

namespace centernet_fast {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxForwardBlocks = 1024;  // enough to fill any current GPU with 256-thread blocks
constexpr int kUnroll = 4;               // independent loads in flight per thread

// CUDA's accurate (not the __expf-style intrinsic) math functions.
struct DeviceFloatMath {
  CNF_HOST_DEVICE static float exp_nonpositive(float x) { return expf(x); }
  CNF_HOST_DEVICE static float log(float x) { return logf(x); }
  CNF_HOST_DEVICE static float log1p(float x) { return log1pf(x); }
  CNF_HOST_DEVICE static float pow(float y, float e) { return powf(y, e); }
};

struct DeviceDoubleMath {
  CNF_HOST_DEVICE static double exp_nonpositive(double x) { return ::exp(x); }
  CNF_HOST_DEVICE static double log(double x) { return ::log(x); }
  CNF_HOST_DEVICE static double log1p(double x) { return ::log1p(x); }
  CNF_HOST_DEVICE static double pow(double y, double e) { return ::pow(y, e); }
};

template <typename T>
using DeviceMath = std::conditional_t<std::is_same_v<T, double>, DeviceDoubleMath, DeviceFloatMath>;

// The sum of v over the block, in a fixed order; the result is valid in thread 0. Each type has
// its own shared buffer, so a sum of another type may follow without a barrier.
template <typename A>
__device__ A block_sum(A v) {
  __shared__ A warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : A(0);
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  return v;
}

template <typename T, typename S>
__device__ __forceinline__ T load(const S* __restrict__ src, int64_t i) {
  return static_cast<T>(widen(src[i]));
}

// Each thread sums the elements i = tid, tid + stride, ... in order (kUnroll loads in flight).
template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
__global__ void __launch_bounds__(kThreads)
focal_loss_partial_kernel(const LT* __restrict__ logits, const TT* __restrict__ target, int64_t n,
                          FocalLossConfig cfg, double* partial_loss, long long* partial_count) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  T loss = T(0);
  long long count = 0;
  for (; i + (kUnroll - 1) * stride < n; i += kUnroll * stride) {
    T x[kUnroll], t[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      x[u] = load<T>(logits, i + u * stride);
      t[u] = load<T>(target, i + u * stride);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      loss += focal_term<DeviceMath<T>, kClamp, kInteger>(x[u], t[u], cfg).loss;
      count += t[u] == T(1);
    }
  }
  for (; i < n; i += stride) {
    const T x = load<T>(logits, i), t = load<T>(target, i);
    loss += focal_term<DeviceMath<T>, kClamp, kInteger>(x, t, cfg).loss;
    count += t == T(1);
  }
  const double block_loss = block_sum(static_cast<double>(loss));
  const long long block_count = block_sum(count);
  if (threadIdx.x == 0) {
    partial_loss[blockIdx.x] = block_loss;
    partial_count[blockIdx.x] = block_count;
  }
}

// One block: adds the partial sums in order and writes the normalised loss and the count.
template <typename T>
__global__ void __launch_bounds__(kThreads)
focal_loss_finalize_kernel(const double* partial_loss, const long long* partial_count, int blocks,
                           T* loss, int64_t* num_pos) {
  double sum = 0;
  long long count = 0;
  for (int b = threadIdx.x; b < blocks; b += kThreads) {
    sum += partial_loss[b];
    count += partial_count[b];
  }
  sum = block_sum(sum);
  count = block_sum(count);
  if (threadIdx.x == 0) {
    // 0 - x, as the original writes it: an empty or all-ignored input gives +0, not -0.
    *loss = static_cast<T>(0.0 - sum / static_cast<double>(count > 0 ? count : 1));
    *num_pos = count;
  }
}

template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
__global__ void __launch_bounds__(kThreads)
focal_loss_backward_kernel(const LT* __restrict__ logits, const TT* __restrict__ target, int64_t n,
                           FocalLossConfig cfg, const T* grad_loss, const int64_t* num_pos,
                           LT* __restrict__ grad_logits) {
  const int64_t count = *num_pos;
  const T scale = static_cast<T>(-static_cast<double>(*grad_loss) /
                                 static_cast<double>(count > 0 ? count : 1));
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const T x = load<T>(logits, i), t = load<T>(target, i);
    const T grad = focal_term<DeviceMath<T>, kClamp, kInteger>(x, t, cfg).grad;
    grad_logits[i] = narrow<LT>(grad * scale);
  }
}

// Calls f(T{}, clamp tag, integer tag, LT{}, TT{}) for the types and modes of p.
template <typename F>
void dispatch(const FocalLossParams& p, F&& f) {
  dispatch_focal_types<__half, __nv_bfloat16>(p.logits_dtype, p.target_dtype, [&](auto lt, auto tt) {
    dispatch_focal_modes(p.config, [&](auto clamp, auto integer) {
      f(ComputeType<decltype(lt)>{}, clamp, integer, lt, tt);
    });
  });
}

}  // namespace

int focal_loss_forward_blocks(int64_t n) {
  const int64_t wanted = (n + int64_t{kThreads} * kUnroll - 1) / (int64_t{kThreads} * kUnroll);
  return static_cast<int>(std::min<int64_t>(std::max<int64_t>(wanted, 1), kMaxForwardBlocks));
}

cudaError_t launch_focal_loss_forward(const FocalLossParams& p, double* partial_loss,
                                      long long* partial_count, cudaStream_t stream) {
  const int blocks = focal_loss_forward_blocks(p.n);
  dispatch(p, [&](auto t, auto clamp, auto integer, auto lt, auto tt) {
    using T = decltype(t);
    using LT = decltype(lt);
    using TT = decltype(tt);
    focal_loss_partial_kernel<T, decltype(clamp)::value, decltype(integer)::value>
        <<<blocks, kThreads, 0, stream>>>(static_cast<const LT*>(p.logits),
                                          static_cast<const TT*>(p.target), p.n, p.config,
                                          partial_loss, partial_count);
    focal_loss_finalize_kernel<T><<<1, kThreads, 0, stream>>>(
        partial_loss, partial_count, blocks, static_cast<T*>(p.loss), p.num_pos);
  });
  return cudaGetLastError();
}

cudaError_t launch_focal_loss_backward(const FocalLossParams& p, cudaStream_t stream) {
  if (p.n == 0) return cudaSuccess;
  const int64_t blocks = std::min<int64_t>((p.n + kThreads - 1) / kThreads, int64_t{1} << 16);
  dispatch(p, [&](auto t, auto clamp, auto integer, auto lt, auto tt) {
    using T = decltype(t);
    using LT = decltype(lt);
    using TT = decltype(tt);
    focal_loss_backward_kernel<T, decltype(clamp)::value, decltype(integer)::value>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
            static_cast<const LT*>(p.logits), static_cast<const TT*>(p.target), p.n, p.config,
            static_cast<const T*>(p.grad_loss), p.num_pos_in, static_cast<LT*>(p.grad_logits));
  });
  return cudaGetLastError();
}

}  // namespace centernet_fast
