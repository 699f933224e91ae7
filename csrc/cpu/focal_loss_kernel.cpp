// CPU kernels of the focal loss. Elements are processed in tiles: a tile is first widened to the
// compute type, then evaluated (float with integer exponents: the vectorised loop of
// focal_loss_tiles.cpp; otherwise a plain loop), then summed into kLanes running sums, so the
// reduction order is fixed by the element index alone.
#include "cpu/focal_loss_kernel.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <vector>

#include "common/focal_loss_dispatch.h"
#include "cpu/fast_math.h"
#include "cpu/focal_loss_tiles.h"

namespace centernet_fast {
namespace {

constexpr int64_t kChunk = int64_t{1} << 15;  // elements per partial sum of the forward
constexpr int64_t kTile = 512;                // elements per vectorised evaluation
constexpr int64_t kLanes = 16;                // running sums per chunk

template <typename T>
using MathFor = std::conditional_t<std::is_same_v<T, double>, cpu::LibmDoubleMath,
                                   cpu::FastFloatMath>;

template <typename Src, typename T>
void widen(const Src* src, int64_t len, T* dst) {
  for (int64_t i = 0; i < len; ++i) dst[i] = static_cast<T>(src[i]);
}

// src[0:len] as the compute type T: src itself when it already is, else widened into buffer.
template <typename T, typename Src>
const T* as_compute(const Src* src, int64_t len, T* buffer) {
  if constexpr (std::is_same_v<Src, T>) {
    return src;
  } else {
    widen(src, len, buffer);
    return buffer;
  }
}

// out[i] = the loss term (or, kGrad, its derivative) of element i < len.
template <typename T, bool kClamp, bool kInteger, bool kGrad>
void evaluate_tile(const T* x, const T* t, int64_t len, const FocalLossConfig& cfg, T* out) {
  if constexpr (std::is_same_v<T, float> && kInteger) {
    focal_loss_float_tile(x, t, len, cfg, kGrad, out);
  } else {
    for (int64_t i = 0; i < len; ++i) {
      const FocalTerm<T> term = focal_term<MathFor<T>, kClamp, kInteger>(x[i], t[i], cfg);
      out[i] = kGrad ? term.grad : term.loss;
    }
  }
}

struct ChunkSum {
  double loss = 0;
  int64_t num_pos = 0;
};

// The sum of the loss terms and the positive count of elements [begin, end).
template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
ChunkSum forward_chunk(const LT* logits, const TT* target, int64_t begin, int64_t end,
                       const FocalLossConfig& cfg) {
  alignas(64) T x_buffer[kTile], t_buffer[kTile], term[kTile];
  T lanes[kLanes] = {};
  ChunkSum sum;
  for (int64_t start = begin; start < end; start += kTile) {
    const int64_t len = std::min(kTile, end - start);
    const T* x = as_compute(logits + start, len, x_buffer);
    const T* t = as_compute(target + start, len, t_buffer);
    evaluate_tile<T, kClamp, kInteger, false>(x, t, len, cfg, term);
    const int64_t padded = (len + kLanes - 1) / kLanes * kLanes;
    std::fill(term + len, term + padded, T(0));
    for (int64_t j = 0; j < padded; j += kLanes) {
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += term[j + l];
    }
    for (int64_t i = 0; i < len; ++i) sum.num_pos += t[i] == T(1);
  }
  for (int64_t l = 0; l < kLanes; ++l) sum.loss += static_cast<double>(lanes[l]);
  return sum;
}

template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
void forward(const FocalLossParams& p) {
  const auto* logits = static_cast<const LT*>(p.logits);
  const auto* target = static_cast<const TT*>(p.target);
  const int64_t chunks = (p.n + kChunk - 1) / kChunk;
  std::vector<ChunkSum> partial(chunks);
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      partial[c] = forward_chunk<T, kClamp, kInteger>(logits, target, c * kChunk,
                                                      std::min(p.n, (c + 1) * kChunk), p.config);
    }
  });
  ChunkSum total;
  for (const ChunkSum& s : partial) {  // in chunk order: the same sum on every run
    total.loss += s.loss;
    total.num_pos += s.num_pos;
  }
  // 0 - x, as the original writes it: an empty or all-ignored input gives +0, not -0.
  const double loss = 0.0 - total.loss / static_cast<double>(std::max<int64_t>(total.num_pos, 1));
  *static_cast<T*>(p.loss) = static_cast<T>(loss);
  *p.num_pos = total.num_pos;
}

template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
void backward(const FocalLossParams& p) {
  const auto* logits = static_cast<const LT*>(p.logits);
  const auto* target = static_cast<const TT*>(p.target);
  auto* grad_logits = static_cast<LT*>(p.grad_logits);
  const T scale = static_cast<T>(-static_cast<double>(*static_cast<const T*>(p.grad_loss)) /
                                 static_cast<double>(std::max<int64_t>(*p.num_pos_in, 1)));
  at::parallel_for(0, p.n, kTile * 8, [&](int64_t begin, int64_t end) {
    alignas(64) T x_buffer[kTile], t_buffer[kTile], grad_buffer[kTile];
    for (int64_t start = begin; start < end; start += kTile) {
      const int64_t len = std::min(kTile, end - start);
      const T* x = as_compute(logits + start, len, x_buffer);
      const T* t = as_compute(target + start, len, t_buffer);
      // Written straight into the output when it has the compute type.
      T* grad = std::is_same_v<LT, T> ? reinterpret_cast<T*>(grad_logits + start) : grad_buffer;
      evaluate_tile<T, kClamp, kInteger, true>(x, t, len, p.config, grad);
      for (int64_t i = 0; i < len; ++i) grad[i] *= scale;
      if constexpr (!std::is_same_v<LT, T>) widen(grad, len, grad_logits + start);
    }
  });
}

// Calls Kernel<T, kClamp, kInteger, LT, TT>(p) for the types and modes of p.
template <template <typename, bool, bool, typename, typename> class Kernel>
void dispatch(const FocalLossParams& p) {
  dispatch_focal_types<c10::Half, c10::BFloat16>(p.logits_dtype, p.target_dtype, [&](auto lt, auto tt) {
    using LT = decltype(lt);
    using TT = decltype(tt);
    dispatch_focal_modes(p.config, [&](auto clamp, auto integer) {
      Kernel<ComputeType<LT>, decltype(clamp)::value, decltype(integer)::value, LT, TT>::run(p);
    });
  });
}

template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
struct Forward {
  static void run(const FocalLossParams& p) { forward<T, kClamp, kInteger, LT, TT>(p); }
};

template <typename T, bool kClamp, bool kInteger, typename LT, typename TT>
struct Backward {
  static void run(const FocalLossParams& p) { backward<T, kClamp, kInteger, LT, TT>(p); }
};

}  // namespace

void focal_loss_forward_cpu_kernel(const FocalLossParams& p) { dispatch<Forward>(p); }

void focal_loss_backward_cpu_kernel(const FocalLossParams& p) { dispatch<Backward>(p); }

}  // namespace centernet_fast
