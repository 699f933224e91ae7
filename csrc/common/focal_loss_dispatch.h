// Turns the runtime choices of a focal-loss call (element types, clamp, integer exponents) into
// template arguments, for the CPU and CUDA kernels alike. Each backend passes its own 16-bit
// types (c10::Half / __half, c10::BFloat16 / __nv_bfloat16).
#pragma once

#include <type_traits>

#include "common/dtype.h"
#include "common/focal_loss_params.h"
#include "common/host_device.h"

namespace centernet_fast {

template <bool B>
using BoolTag = std::integral_constant<bool, B>;

// Calls f(LogitsType{}, TargetType{}); the target is float or the logits' type.
template <typename Half, typename BFloat16, typename F>
void dispatch_focal_types(Dtype logits, Dtype target, F&& f) {
  dispatch_dtype<Half, BFloat16>(logits, [&](auto l) {
    target == Dtype::kFloat32 ? f(l, float{}) : f(l, l);
  });
}

// Calls f(BoolTag<clamp>{}, BoolTag<integer exponents>{}).
template <typename F>
void dispatch_focal_modes(const FocalLossConfig& cfg, F&& f) {
  const bool integer = cfg.alpha.integer >= 0 && cfg.beta.integer >= 0;
  if (cfg.clamp) {
    integer ? f(BoolTag<true>{}, BoolTag<true>{}) : f(BoolTag<true>{}, BoolTag<false>{});
  } else {
    integer ? f(BoolTag<false>{}, BoolTag<true>{}) : f(BoolTag<false>{}, BoolTag<false>{});
  }
}

}  // namespace centernet_fast
