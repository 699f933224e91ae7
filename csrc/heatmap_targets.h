// Argument checking and output allocation of the heatmap-target ops, shared by the CPU and CUDA
// registrations so that both reject the same inputs with the same messages.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <tuple>

#include "common/ctdet_targets_params.h"

namespace centernet_fast {

using CtdetTargetsResult = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// A checked ctdet_targets call: contiguous inputs, allocated outputs (hm zero-filled, the others
// uninitialised: the kernels write every element) and the kernel parameters pointing at them.
struct CtdetTargetsCall {
  at::Tensor boxes, labels;
  at::Tensor hm, wh, reg, ind, reg_mask;
  CtdetTargetsParams params;

  CtdetTargetsResult result() const { return {hm, wh, reg, ind, reg_mask}; }
};

CtdetTargetsCall prepare_ctdet_targets(const at::Tensor& boxes, const at::Tensor& labels,
                                       int64_t num_classes, at::IntArrayRef output_size,
                                       int64_t max_objs, double min_overlap,
                                       c10::string_view radius_mode);

// A checked gaussian_radius call: float64 contiguous inputs and the float64 output.
struct GaussianRadiusCall {
  at::Tensor height, width, out;
  double min_overlap;
  RadiusMode mode;
};

GaussianRadiusCall prepare_gaussian_radius(const at::Tensor& height, const at::Tensor& width,
                                           double min_overlap, c10::string_view mode);

}  // namespace centernet_fast
