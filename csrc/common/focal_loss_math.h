// Per-element math of the penalty-reduced focal loss, shared by the CPU and CUDA kernels.
//
// With p = sigmoid(x) (clamped to [lo, hi] in the original's clamp mode), a pixel with target t
// contributes, before the -1/max(num_pos, 1) normalisation:
//   t == 1 (positive):  log(p) (1-p)^alpha
//   t <  1 (negative):  log(1-p) p^alpha (1-t)^beta
//   t >  1:             nothing (ignored); a NaN t is neither, and makes the term NaN.
// Writing s for the probability of the right answer (p, or 1-p for a negative), r = 1 - s for
// the error and w for the weight (1, or (1-t)^beta), the term is w log(s) r^alpha and its
// derivative with respect to the logit x is  sign * w * r^alpha * (r - alpha * s * log(s)),
// sign = +1 for positives and -1 for negatives (ds/dx = sign * s * r). Where the clamp is active
// the derivative is 0; the clamp bounds themselves pass the gradient, as torch.clamp does.
//
// `Math` supplies exp (of non-positive arguments), log and log1p for the compute type T: libm
// for double, a vectorisable polynomial for float on the CPU, CUDA's functions on the GPU.
#pragma once

#include <cstdint>

#include "common/host_device.h"

namespace centernet_fast {

// The clamp of the original _sigmoid: [1e-4, 1 - 1e-4], rounded to the compute type.
template <typename T>
struct FocalClamp {
  static constexpr T lo = T(1e-4);
  static constexpr T hi = T(1.0 - 1e-4);
};

// An exponent (alpha or beta) and, when it is a small non-negative integer, that integer: the
// power is then a product of exact multiplications (what torch.pow does for 2) instead of pow.
struct FocalExponent {
  double value;
  int32_t integer;  // value as an integer in [0, kMaxIntegerExponent], or -1
};

constexpr int32_t kMaxIntegerExponent = 16;

inline FocalExponent make_focal_exponent(double value) {
  const bool small_int = value >= 0 && value <= kMaxIntegerExponent &&
                         value == static_cast<double>(static_cast<int32_t>(value));
  return {value, small_int ? static_cast<int32_t>(value) : -1};
}

struct FocalLossConfig {
  FocalExponent alpha, beta;
  bool clamp;  // the original clamped sigmoid; false: exact log-sigmoid form
};

template <typename T>
struct FocalTerm {
  T loss;  // w log(s) r^alpha, 0 for ignored pixels
  T grad;  // d loss / d logit
};

// y^e for an integer e in [0, 31] by binary powering, written out: straight-line code with
// selects, so loops calling it vectorise; y^1 and y^2 are y and y*y exactly.
template <typename T>
CNF_HOST_DEVICE T integer_power(T y, int32_t e) {
  static_assert(kMaxIntegerExponent < 32, "five binary digits");
  const T y2 = y * y, y4 = y2 * y2, y8 = y4 * y4, y16 = y8 * y8;
  T out = e & 1 ? y : T(1);
  out = e & 2 ? out * y2 : out;
  out = e & 4 ? out * y4 : out;
  out = e & 8 ? out * y8 : out;
  return e & 16 ? out * y16 : out;
}

template <typename Math, typename T, bool kIntegerExponents>
CNF_HOST_DEVICE T focal_power(T y, T e, int32_t e_integer) {
  if (kIntegerExponents) return integer_power(y, e_integer);
  return Math::pow(y, e);
}

// The term of one pixel. kClamp: the original clamped sigmoid, else the log-sigmoid form.
// kIntegerExponents: alpha and beta are small integers (cfg.*.integer >= 0).
template <typename Math, bool kClamp, bool kIntegerExponents, typename T>
CNF_HOST_DEVICE FocalTerm<T> focal_term(T x, T t, const FocalLossConfig& cfg) {
  // Every field is read up front: a load inside a select would keep the CPU loops scalar.
  const T alpha = static_cast<T>(cfg.alpha.value), beta = static_cast<T>(cfg.beta.value);
  const int32_t alpha_integer = cfg.alpha.integer, beta_integer = cfg.beta.integer;
  const bool pos = t == T(1);
  // exp(-|x|) in (0, 1] keeps the sigmoid finite for every x; NaN stays NaN.
  const T ax = x < T(0) ? -x : x;
  const T e = Math::exp_nonpositive(-ax);
  const T inv = T(1) / (T(1) + e);
  const T p = x >= T(0) ? inv : e * inv;
  T s, r, log_s;
  bool passes = true;
  if (kClamp) {
    constexpr T lo = FocalClamp<T>::lo, hi = FocalClamp<T>::hi;
    const T pc = p < lo ? lo : (p > hi ? hi : p);
    passes = (p >= lo) & (p <= hi);  // bitwise: no branch in vectorised loops
    s = pos ? pc : T(1) - pc;
    r = pos ? T(1) - pc : pc;
    log_s = Math::log(s);
  } else {
    const T q = x >= T(0) ? e * inv : inv;  // 1 - p without cancellation
    s = pos ? p : q;
    r = pos ? q : p;
    // log(s) = -softplus(-x) for a positive, -softplus(x) for a negative.
    const T signed_x = pos ? -x : x;
    log_s = -((signed_x > T(0) ? signed_x : T(0)) + Math::log1p(e));
  }
  const T r_alpha = focal_power<Math, T, kIntegerExponents>(r, alpha, alpha_integer);
  const T w = pos ? T(1) : focal_power<Math, T, kIntegerExponents>(T(1) - t, beta, beta_integer);
  const T grad = w * r_alpha * (r - alpha * s * log_s);
  const bool ignored = t > T(1);
  FocalTerm<T> out;
  out.loss = ignored ? T(0) : log_s * r_alpha * w;
  out.grad = ignored | !passes ? T(0) : (pos ? grad : -grad);
  return out;
}

}  // namespace centernet_fast
