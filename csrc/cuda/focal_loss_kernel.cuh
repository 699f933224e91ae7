// Launchers of the focal-loss CUDA kernels. Plain CUDA runtime types only, so the .cu file that
// implements them compiles without PyTorch headers.
#pragma once

#include <cuda_runtime.h>

#include "common/focal_loss_params.h"

namespace centernet_fast {

// The number of blocks, and so of partial sums, the forward uses for n elements. It depends on n
// alone, which fixes the summation order: the loss is bit-identical run to run and across GPUs.
int focal_loss_forward_blocks(int64_t n);

// Forward in two launches: per-block partial sums into partial_loss / partial_count (device
// buffers of focal_loss_forward_blocks(p.n) entries), then one block adds them in order and
// writes *p.loss and *p.num_pos.
cudaError_t launch_focal_loss_forward(const FocalLossParams& p, double* partial_loss,
                                      long long* partial_count, cudaStream_t stream);

// Writes p.grad_logits (one read of logits and target, one write).
cudaError_t launch_focal_loss_backward(const FocalLossParams& p, cudaStream_t stream);

}  // namespace centernet_fast
