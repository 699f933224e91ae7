// CPU kernels of deform_conv2d: chunks of images, a modulated column matrix per chunk (bilinear
// gather) and one batched matrix product over the conv groups.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <tuple>

#include "deform_conv.h"

namespace centernet_fast {

// The [B, C_out, H_out, W_out] output in the input's dtype.
at::Tensor deform_conv2d_forward_cpu_kernel(const DeformConvCall& call);

// (grad_input, grad_offset, grad_weight, grad_bias, grad_mask), each in the input's dtype and
// its argument's shape (grad_mask: that of a mask of ones when call.mask is undefined). Every sum
// runs in a fixed order, so the results are bit-identical run to run. output_mask selects (input,
// offset and mask, weight and bias); the others are returned uninitialised.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
deform_conv2d_backward_cpu_kernel(const DeformConvCall& call, std::array<bool, 3> output_mask);

}  // namespace centernet_fast
