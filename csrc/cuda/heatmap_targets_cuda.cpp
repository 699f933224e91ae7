// CUDA registrations of gaussian_radius and ctdet_targets: check, allocate, launch on the current
// stream. Compiled by the host compiler; the kernels live in heatmap_targets_kernel.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "cuda/heatmap_targets_kernel.cuh"
#include "cuda/launch_utils.h"
#include "heatmap_targets.h"

namespace centernet_fast {
namespace {

CtdetTargetsResult ctdet_targets_cuda(const at::Tensor& boxes, const at::Tensor& labels,
                                      int64_t num_classes, at::IntArrayRef output_size,
                                      int64_t max_objs, double min_overlap,
                                      c10::string_view radius_mode) {
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(boxes));
  const CtdetTargetsCall call = prepare_ctdet_targets(boxes, labels, num_classes, output_size,
                                                      max_objs, min_overlap, radius_mode);
  check_launch("ctdet_targets",
               launch_ctdet_targets(call.params, c10::cuda::getCurrentCUDAStream()));
  return call.result();
}

at::Tensor gaussian_radius_cuda(const at::Tensor& height, const at::Tensor& width,
                                double min_overlap, c10::string_view mode) {
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(height));
  const GaussianRadiusCall call = prepare_gaussian_radius(height, width, min_overlap, mode);
  check_launch("gaussian_radius",
               launch_gaussian_radius(call.height.data_ptr<double>(), call.width.data_ptr<double>(),
                                      call.out.data_ptr<double>(), call.out.numel(),
                                      call.min_overlap, call.mode,
                                      c10::cuda::getCurrentCUDAStream()));
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CUDA, m) {
  m.impl("gaussian_radius", &gaussian_radius_cuda);
  m.impl("ctdet_targets", &ctdet_targets_cuda);
}

}  // namespace centernet_fast
