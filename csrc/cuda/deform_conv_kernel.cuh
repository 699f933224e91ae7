// Launchers of the deform_conv2d CUDA kernels. Plain CUDA runtime types only, so the .cu file that
// implements them compiles without PyTorch headers. All pointers are device pointers; "acc" is
// the compute type: double for float64 inputs, float otherwise.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/deform_conv_params.h"
#include "common/dtype.h"

namespace centernet_fast {

// One chunk of n images of a call. input, offset and mask point at the chunk's first image.
struct DeformConvChunk {
  DeformConvGeometry g;
  Dtype dtype;  // of input, offset and mask
  int64_t n;
  const void* input;   // [n, C, H, W]
  const void* offset;  // [n, 2 dg taps, H_out, W_out]
  const void* mask;    // [n, dg taps, H_out, W_out], or nullptr for ones
};

// columns (acc) [C * taps, n * H_out * W_out], row c * taps + t, column img * plane + l: the input
// of channel c sampled bilinearly at tap t of output pixel l, times the mask.
cudaError_t launch_deform_columns(const DeformConvChunk& c, void* columns, cudaStream_t stream);

// grad_offset [n, 2 dg taps, H_out, W_out] and grad_mask [n, dg taps, H_out, W_out] (input dtype)
// from grad_columns (acc, the columns' layout). One thread per sampling point adds the channels
// of its group in order.
cudaError_t launch_deform_offset_mask_grad(const DeformConvChunk& c, const void* grad_columns,
                                           void* grad_offset, void* grad_mask,
                                           cudaStream_t stream);

// For each sampling point q = ((img * dg + group) * taps + t) * plane + l and neighbour k, entry
// 4 q + k: keys = (img * dg + group) * H * W + pixel of the neighbour, or n * dg * H * W when it
// lies outside the image; weights (acc) = its bilinear weight times the mask.
cudaError_t launch_deform_input_grad_keys(const DeformConvChunk& c, int64_t* keys, void* weights,
                                          cudaStream_t stream);

// grad_input [n, C, H, W] (input dtype), one thread per input element: the sum over the entries
// order[starts[s]], ..., order[starts[s + 1] - 1] of segment s = (img * dg + group) * H * W +
// pixel (the entries sorted stably by key) of weights[e] * grad_columns at the entry's point.
cudaError_t launch_deform_input_grad_gather(const DeformConvChunk& c, const void* grad_columns,
                                            const int64_t* order, const int64_t* starts,
                                            const void* weights, void* grad_input,
                                            cudaStream_t stream);

}  // namespace centernet_fast
