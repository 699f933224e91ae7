// Argument checks of gaussian_radius and ctdet_targets, and their CPU registrations.
#include "heatmap_targets.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <limits>
#include <string>

#include "cpu/heatmap_targets_kernel.h"

namespace centernet_fast {
namespace {

RadiusMode parse_radius_mode(const char* op, const char* arg, c10::string_view mode,
                             bool allow_elliptical) {
  if (mode == "centernet") return RadiusMode::kCenterNet;
  if (mode == "corrected") return RadiusMode::kCorrected;
  if (allow_elliptical && mode == "elliptical") return RadiusMode::kElliptical;
  TORCH_CHECK_VALUE(false, op, ": ", arg, " must be one of 'centernet', 'corrected'",
                    allow_elliptical ? ", 'elliptical'" : "", "; got '", std::string(mode), "'");
}

void check_min_overlap(const char* op, double min_overlap) {
  TORCH_CHECK_VALUE(min_overlap > 0.0 && min_overlap < 1.0, op,
                    ": min_overlap must be in the open interval (0, 1); got ", min_overlap);
}

// Labels must lie in [-1, num_classes). One small reduction (and, on CUDA, one sync): an
// out-of-range class would otherwise write outside hm.
void check_label_range(const at::Tensor& labels, int64_t num_classes) {
  if (labels.numel() == 0) return;
  const auto [lo, hi] = at::aminmax(labels);
  const at::Tensor range = at::stack({lo, hi}).cpu();  // one device-to-host copy
  const int64_t min_label = range[0].item<int64_t>(), max_label = range[1].item<int64_t>();
  TORCH_CHECK_VALUE(min_label >= -1 && max_label < num_classes,
                    "ctdet_targets: labels must be in [-1, num_classes) = [-1, ", num_classes,
                    ") with -1 marking padding; got values in [", min_label, ", ", max_label, "]");
}

// Box sizes may come as any real dtype; they are converted to float64 exactly (for integers up
// to 2^53).
void check_real(const char* op, const char* arg, const at::Tensor& t) {
  const auto dtype = t.scalar_type();
  TORCH_CHECK_VALUE(dtype != at::kBool && !at::isComplexType(dtype), op, ": ", arg,
                    " must be a real (floating-point or integer) tensor; got ", dtype);
}

}  // namespace

CtdetTargetsCall prepare_ctdet_targets(const at::Tensor& boxes_in, const at::Tensor& labels_in,
                                       int64_t num_classes, at::IntArrayRef output_size,
                                       int64_t max_objs, double min_overlap,
                                       c10::string_view radius_mode) {
  constexpr const char* op = "ctdet_targets";
  TORCH_CHECK_VALUE(boxes_in.dim() == 3 && boxes_in.size(2) == 4, op,
                    ": boxes must have shape [B, N, 4]; got ", boxes_in.sizes());
  TORCH_CHECK_VALUE(boxes_in.scalar_type() == at::kFloat, op, ": boxes must be float32; got ",
                    boxes_in.scalar_type());
  TORCH_CHECK_VALUE(labels_in.dim() == 2, op, ": labels must have shape [B, N]; got ",
                    labels_in.sizes());
  TORCH_CHECK_VALUE(labels_in.scalar_type() == at::kLong, op, ": labels must be int64; got ",
                    labels_in.scalar_type());
  TORCH_CHECK_VALUE(labels_in.size(0) == boxes_in.size(0) && labels_in.size(1) == boxes_in.size(1),
                    op, ": labels must have shape [B, N] = ", boxes_in.sizes().slice(0, 2),
                    " to match boxes; got ", labels_in.sizes());
  TORCH_CHECK_VALUE(boxes_in.device() == labels_in.device(), op,
                    ": boxes and labels must be on the same device; got ", boxes_in.device(),
                    " and ", labels_in.device());
  constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  TORCH_CHECK_VALUE(num_classes > 0 && num_classes <= kMaxInt32, op,
                    ": num_classes must be in [1, 2^31); got ", num_classes);
  TORCH_CHECK_VALUE(output_size.size() == 2 && output_size[0] > 0 && output_size[1] > 0, op,
                    ": output_size must be two positive integers (H, W); got ", output_size);
  // The kernels index within one H x W plane with 32-bit integers.
  TORCH_CHECK_VALUE(output_size[0] * output_size[1] <= kMaxInt32, op,
                    ": output_size H * W must be below 2^31; got ", output_size);
  TORCH_CHECK_VALUE(max_objs >= 0, op, ": max_objs must be non-negative; got ", max_objs);
  check_min_overlap(op, min_overlap);
  const RadiusMode mode = parse_radius_mode(op, "radius_mode", radius_mode, true);
  check_label_range(labels_in, num_classes);

  CtdetTargetsCall call;
  call.boxes = boxes_in.contiguous();
  call.labels = labels_in.contiguous();
  const int64_t batch = boxes_in.size(0), height = output_size[0], width = output_size[1];
  const auto f32 = boxes_in.options();
  call.hm = at::zeros({batch, num_classes, height, width}, f32);
  call.wh = at::empty({batch, max_objs, 2}, f32);
  call.reg = at::empty({batch, max_objs, 2}, f32);
  call.ind = at::empty({batch, max_objs}, f32.dtype(at::kLong));
  call.reg_mask = at::empty({batch, max_objs}, f32.dtype(at::kByte));

  CtdetTargetsParams& p = call.params;
  p.boxes = call.boxes.data_ptr<float>();
  p.labels = call.labels.data_ptr<int64_t>();
  p.batch = batch;
  p.num_boxes = boxes_in.size(1);
  p.hm = call.hm.data_ptr<float>();
  p.wh = call.wh.data_ptr<float>();
  p.reg = call.reg.data_ptr<float>();
  p.ind = call.ind.data_ptr<int64_t>();
  p.reg_mask = call.reg_mask.data_ptr<uint8_t>();
  p.num_classes = num_classes;
  p.height = height;
  p.width = width;
  p.max_objs = max_objs;
  p.min_overlap = min_overlap;
  p.mode = mode;
  return call;
}

GaussianRadiusCall prepare_gaussian_radius(const at::Tensor& height, const at::Tensor& width,
                                           double min_overlap, c10::string_view mode) {
  constexpr const char* op = "gaussian_radius";
  check_real(op, "height", height);
  check_real(op, "width", width);
  TORCH_CHECK_VALUE(height.sizes() == width.sizes(), op,
                    ": height and width must have the same shape; got ", height.sizes(), " and ",
                    width.sizes());
  TORCH_CHECK_VALUE(height.device() == width.device(), op,
                    ": height and width must be on the same device; got ", height.device(),
                    " and ", width.device());
  check_min_overlap(op, min_overlap);
  GaussianRadiusCall call;
  call.mode = parse_radius_mode(op, "mode", mode, false);
  call.min_overlap = min_overlap;
  call.height = height.to(at::kDouble).contiguous();
  call.width = width.to(at::kDouble).contiguous();
  call.out = at::empty_like(call.height);
  return call;
}

namespace {

CtdetTargetsResult ctdet_targets_cpu(const at::Tensor& boxes, const at::Tensor& labels,
                                     int64_t num_classes, at::IntArrayRef output_size,
                                     int64_t max_objs, double min_overlap,
                                     c10::string_view radius_mode) {
  const CtdetTargetsCall call = prepare_ctdet_targets(boxes, labels, num_classes, output_size,
                                                      max_objs, min_overlap, radius_mode);
  ctdet_targets_cpu_kernel(call.params);
  return call.result();
}

at::Tensor gaussian_radius_cpu(const at::Tensor& height, const at::Tensor& width,
                               double min_overlap, c10::string_view mode) {
  const GaussianRadiusCall call = prepare_gaussian_radius(height, width, min_overlap, mode);
  gaussian_radius_cpu_kernel(call.height.data_ptr<double>(), call.width.data_ptr<double>(),
                             call.out.data_ptr<double>(), call.out.numel(), call.min_overlap,
                             call.mode);
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CPU, m) {
  m.impl("gaussian_radius", &gaussian_radius_cpu);
  m.impl("ctdet_targets", &ctdet_targets_cpu);
}

}  // namespace centernet_fast
