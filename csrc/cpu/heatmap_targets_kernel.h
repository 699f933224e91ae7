#pragma once

#include "common/ctdet_targets_params.h"

namespace centernet_fast {

// Fills every output of p on the CPU (p's pointers are host memory).
void ctdet_targets_cpu_kernel(const CtdetTargetsParams& p);

// out[i] = gaussian_radius(height[i], width[i]) for i < n (host float64 arrays).
void gaussian_radius_cpu_kernel(const double* height, const double* width, double* out, int64_t n,
                                double min_overlap, RadiusMode mode);

}  // namespace centernet_fast
