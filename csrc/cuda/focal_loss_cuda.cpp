// CUDA registrations of focal_loss and focal_loss_backward: check, allocate, launch on the current
// stream. Compiled by the host compiler; the kernels live in focal_loss_kernel.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <tuple>

#include "cuda/focal_loss_kernel.cuh"
#include "cuda/launch_utils.h"
#include "focal_loss.h"

namespace centernet_fast {
namespace {

std::tuple<at::Tensor, at::Tensor> focal_loss_cuda(const at::Tensor& logits,
                                                   const at::Tensor& target, double alpha,
                                                   double beta, bool clamp) {
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(logits));
  const FocalLossCall call = prepare_focal_loss(logits, target, alpha, beta, clamp);
  // The per-block partial sums of the two-stage reduction.
  const int blocks = focal_loss_forward_blocks(call.params.n);
  const at::Tensor partial_loss = at::empty({blocks}, logits.options().dtype(at::kDouble));
  const at::Tensor partial_count = at::empty({blocks}, logits.options().dtype(at::kLong));
  check_launch("focal_loss",
               launch_focal_loss_forward(
                   call.params, partial_loss.data_ptr<double>(),
                   reinterpret_cast<long long*>(partial_count.data_ptr<int64_t>()),
                   c10::cuda::getCurrentCUDAStream()));
  return {call.loss, call.num_pos};
}

at::Tensor focal_loss_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                    const at::Tensor& target, const at::Tensor& num_pos,
                                    double alpha, double beta, bool clamp) {
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(logits));
  const FocalLossCall call =
      prepare_focal_loss_backward(grad_loss, logits, target, num_pos, alpha, beta, clamp);
  check_launch("focal_loss_backward",
               launch_focal_loss_backward(call.params, c10::cuda::getCurrentCUDAStream()));
  return call.grad_logits;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CUDA, m) {
  m.impl("focal_loss", &focal_loss_cuda);
  m.impl("focal_loss_backward", &focal_loss_backward_cuda);
}

}  // namespace centernet_fast
