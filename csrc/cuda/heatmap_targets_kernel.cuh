// Launchers of the ctdet_targets and gaussian_radius CUDA kernels. Plain CUDA runtime types only,
// so the .cu files that implement them compile without PyTorch headers.
#pragma once

#include <cuda_runtime.h>

#include "common/ctdet_targets_params.h"

namespace centernet_fast {

// Draws the whole batch in one launch on `stream`. p.hm must already be zero-filled; every other
// output element is written. Returns the launch error, if any.
cudaError_t launch_ctdet_targets(const CtdetTargetsParams& p, cudaStream_t stream);

// out[i] = gaussian_radius(height[i], width[i]) for i < n, float64 device pointers.
cudaError_t launch_gaussian_radius(const double* height, const double* width, double* out,
                                   int64_t n, double min_overlap, RadiusMode mode,
                                   cudaStream_t stream);

}  // namespace centernet_fast
