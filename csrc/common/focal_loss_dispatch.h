// Turns the runtime choices of a focal-loss call (element types, clamp, integer exponents) into
// template arguments, for the CPU and CUDA kernels alike. Each backend passes its own 16-bit
// types (c10::Half / __half, c10::BFloat16 / __nv_bfloat16).
#pragma once

#include <type_traits>

#include "common/focal_loss_params.h"
#include "common/host_device.h"

namespace centernet_fast {

template <bool B>
using BoolTag = std::integral_constant<bool, B>;

// Calls f(LogitsType{}, TargetType{}); the target is float or the logits' type.
template <typename Half, typename BFloat16, typename F>
void dispatch_focal_types(FocalDtype logits, FocalDtype target, F&& f) {
  const bool float_target = target == FocalDtype::kFloat;
  switch (logits) {
    case FocalDtype::kFloat: f(float{}, float{}); return;
    case FocalDtype::kHalf:
      float_target ? f(Half{}, float{}) : f(Half{}, Half{});
      return;
    case FocalDtype::kBFloat16:
      float_target ? f(BFloat16{}, float{}) : f(BFloat16{}, BFloat16{});
      return;
    case FocalDtype::kDouble:
      float_target ? f(double{}, float{}) : f(double{}, double{});
      return;
  }
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

// The compute type: double for double logits, float otherwise (16-bit inputs are widened).
template <typename LogitsType>
using FocalCompute = std::conditional_t<std::is_same_v<LogitsType, double>, double, float>;

}  // namespace centernet_fast
