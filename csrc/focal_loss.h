// Argument checking and output allocation of focal_loss and focal_loss_backward, shared by the
// CPU and CUDA registrations so that both reject the same inputs with the same messages.
#pragma once

#include <ATen/core/Tensor.h>

#include "common/focal_loss_params.h"

namespace centernet_fast {

// A checked call: contiguous inputs, the allocated outputs and the kernel parameters.
struct FocalLossCall {
  at::Tensor logits, target;
  at::Tensor loss, num_pos;                     // forward outputs
  at::Tensor grad_loss, num_pos_in, grad_logits;  // backward
  FocalLossParams params;
};

FocalLossCall prepare_focal_loss(const at::Tensor& logits, const at::Tensor& target, double alpha,
                                 double beta, bool clamp);

FocalLossCall prepare_focal_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                          const at::Tensor& target, const at::Tensor& num_pos,
                                          double alpha, double beta, bool clamp);

}  // namespace centernet_fast
