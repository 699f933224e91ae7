// Argument checks of focal_loss and focal_loss_backward, and their CPU registrations.
#include "focal_loss.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <tuple>

#include "cpu/focal_loss_kernel.h"
#include "dtype_of.h"

namespace centernet_fast {
namespace {

constexpr const char* kOp = "focal_loss";

void check_inputs(const at::Tensor& logits, const at::Tensor& target, double alpha, double beta) {
  const auto lt = logits.scalar_type(), tt = target.scalar_type();
  TORCH_CHECK_VALUE(lt == at::kFloat || lt == at::kHalf || lt == at::kBFloat16 || lt == at::kDouble,
                    kOp, ": logits must be float32, float16, bfloat16 or float64; got ", lt);
  TORCH_CHECK_VALUE(tt == at::kFloat || tt == lt, kOp,
                    ": target must be float32 or the logits' dtype (", lt, "); got ", tt);
  TORCH_CHECK_VALUE(target.sizes() == logits.sizes(), kOp, ": target must have the logits' shape ",
                    logits.sizes(), "; got ", target.sizes());
  TORCH_CHECK_VALUE(logits.device() == target.device(), kOp,
                    ": logits and target must be on the same device; got ", logits.device(),
                    " and ", target.device());
  TORCH_CHECK_VALUE(alpha >= 0 && std::isfinite(alpha), kOp,
                    ": alpha must be a finite non-negative number; got ", alpha);
  TORCH_CHECK_VALUE(beta >= 0 && std::isfinite(beta), kOp,
                    ": beta must be a finite non-negative number; got ", beta);
}

// The loss dtype: float64 for float64 logits (gradcheck), float32 otherwise.
at::ScalarType loss_dtype(const at::Tensor& logits) {
  return logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

FocalLossCall prepare_inputs(const at::Tensor& logits, const at::Tensor& target, double alpha,
                             double beta, bool clamp) {
  check_inputs(logits, target, alpha, beta);
  FocalLossCall call;
  call.logits = logits.contiguous();
  call.target = target.contiguous();
  FocalLossParams& p = call.params;
  p = FocalLossParams{};
  p.logits = call.logits.const_data_ptr();
  p.target = call.target.const_data_ptr();
  p.n = logits.numel();
  p.logits_dtype = dtype_of(logits.scalar_type());
  p.target_dtype = dtype_of(target.scalar_type());
  p.config = {make_focal_exponent(alpha), make_focal_exponent(beta), clamp};
  return call;
}

}  // namespace

FocalLossCall prepare_focal_loss(const at::Tensor& logits, const at::Tensor& target, double alpha,
                                 double beta, bool clamp) {
  FocalLossCall call = prepare_inputs(logits, target, alpha, beta, clamp);
  call.loss = at::empty({}, logits.options().dtype(loss_dtype(logits)));
  call.num_pos = at::empty({}, logits.options().dtype(at::kLong));
  call.params.loss = call.loss.data_ptr();
  call.params.num_pos = call.num_pos.data_ptr<int64_t>();
  return call;
}

FocalLossCall prepare_focal_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                          const at::Tensor& target, const at::Tensor& num_pos,
                                          double alpha, double beta, bool clamp) {
  FocalLossCall call = prepare_inputs(logits, target, alpha, beta, clamp);
  constexpr const char* op = "focal_loss_backward";
  TORCH_CHECK_VALUE(grad_loss.dim() == 0 && grad_loss.is_floating_point(), op,
                    ": grad_loss must be a floating-point scalar (0-dim) tensor; got ",
                    grad_loss.scalar_type(), " of shape ", grad_loss.sizes());
  TORCH_CHECK_VALUE(num_pos.dim() == 0 && num_pos.scalar_type() == at::kLong, op,
                    ": num_pos must be the int64 scalar returned by focal_loss; got ",
                    num_pos.scalar_type(), " of shape ", num_pos.sizes());
  TORCH_CHECK_VALUE(grad_loss.device() == logits.device() && num_pos.device() == logits.device(),
                    op, ": grad_loss and num_pos must be on the logits' device ", logits.device(),
                    "; got ", grad_loss.device(), " and ", num_pos.device());
  call.grad_loss = grad_loss.to(loss_dtype(logits)).contiguous();
  call.num_pos_in = num_pos.contiguous();
  call.grad_logits = at::empty_like(call.logits);
  call.params.grad_loss = call.grad_loss.const_data_ptr();
  call.params.num_pos_in = call.num_pos_in.const_data_ptr<int64_t>();
  call.params.grad_logits = call.grad_logits.data_ptr();
  return call;
}

namespace {

std::tuple<at::Tensor, at::Tensor> focal_loss_cpu(const at::Tensor& logits,
                                                  const at::Tensor& target, double alpha,
                                                  double beta, bool clamp) {
  const FocalLossCall call = prepare_focal_loss(logits, target, alpha, beta, clamp);
  focal_loss_forward_cpu_kernel(call.params);
  return {call.loss, call.num_pos};
}

at::Tensor focal_loss_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits,
                                   const at::Tensor& target, const at::Tensor& num_pos,
                                   double alpha, double beta, bool clamp) {
  const FocalLossCall call =
      prepare_focal_loss_backward(grad_loss, logits, target, num_pos, alpha, beta, clamp);
  focal_loss_backward_cpu_kernel(call.params);
  return call.grad_logits;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CPU, m) {
  m.impl("focal_loss", &focal_loss_cpu);
  m.impl("focal_loss_backward", &focal_loss_backward_cpu);
}

}  // namespace centernet_fast
