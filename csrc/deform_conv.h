// Argument checking of deform_conv2d and deform_conv2d_backward, shared by the CPU and CUDA
// registrations so that both reject the same inputs with the same messages.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/core/DispatchKeySet.h>
#include <c10/util/Optional.h>
#include <c10/util/string_view.h>

#include "common/deform_conv_params.h"

namespace centernet_fast {

// A checked call: contiguous inputs (mask and bias undefined when absent) and the sizes.
struct DeformConvCall {
  at::Tensor input, offset, weight, bias, mask;
  at::Tensor grad_output;  // backward only
  DeformConvGeometry geometry;
};

// The autocast dispatch keys. The kernels exclude them (c10::impl::ExcludeDispatchKeyGuard) so
// that their internal matrix products run in the compute dtype even when called inside
// torch.autocast: the backward runs with the caller's autocast state.
inline c10::DispatchKeySet autocast_keys() {
  return c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA});
}

DeformConvCall prepare_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                     const at::Tensor& weight,
                                     const std::optional<at::Tensor>& bias,
                                     at::IntArrayRef stride, at::IntArrayRef padding,
                                     at::IntArrayRef dilation,
                                     const std::optional<at::Tensor>& mask,
                                     c10::string_view border_rule);

DeformConvCall prepare_deform_conv2d_backward(const at::Tensor& grad_output,
                                              const at::Tensor& input, const at::Tensor& offset,
                                              const at::Tensor& weight,
                                              const std::optional<at::Tensor>& mask,
                                              at::IntArrayRef stride, at::IntArrayRef padding,
                                              at::IntArrayRef dilation,
                                              c10::string_view border_rule);

}  // namespace centernet_fast
