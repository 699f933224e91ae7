// Argument checks of deform_conv2d and deform_conv2d_backward, and their CPU registrations. The
// messages are those of centernet_fast/ops/_checks.py (the reference's checks).
#include "deform_conv.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <array>
#include <tuple>

#include "cpu/deform_conv_kernel.h"

namespace centernet_fast {
namespace {

constexpr const char* kOp = "deform_conv2d";

void check_companion(const char* arg, const at::Tensor& t, const at::Tensor& input) {
  TORCH_CHECK_VALUE(t.scalar_type() == input.scalar_type(), kOp, ": ", arg,
                    " must have the input's dtype (", input.scalar_type(), "); got ",
                    t.scalar_type());
  TORCH_CHECK_VALUE(t.device() == input.device(), kOp, ": ", arg,
                    " must be on the input's device (", input.device(), "); got ", t.device());
}

void check_pair(const char* arg, at::IntArrayRef v, int64_t min) {
  TORCH_CHECK_VALUE(v.size() == 2, kOp, ": ", arg, " must be an int or two ints (h, w); got ", v);
  TORCH_CHECK_VALUE(v[0] >= min && v[1] >= min, kOp, ": ", arg, " must be ",
                    min == 0 ? "non-negative" : "positive", "; got ", v);
}

DeformConvGeometry check_arguments(const at::Tensor& input, const at::Tensor& offset,
                                   const at::Tensor& weight, const at::Tensor* bias,
                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                   at::IntArrayRef dilation, const at::Tensor* mask) {
  const auto dt = input.scalar_type();
  TORCH_CHECK_VALUE(input.dim() == 4, kOp, ": input must have shape [B, C, H, W]; got ",
                    input.sizes());
  TORCH_CHECK_VALUE(dt == at::kFloat || dt == at::kDouble || dt == at::kHalf || dt == at::kBFloat16,
                    kOp, ": input must be float32, float64, float16 or bfloat16; got ", dt);
  TORCH_CHECK_VALUE(weight.dim() == 4, kOp,
                    ": weight must have shape [C_out, C / groups, kh, kw]; got ", weight.sizes());
  TORCH_CHECK_VALUE(offset.dim() == 4, kOp,
                    ": offset must have shape [B, 2 * offset_groups * kh * kw, H_out, W_out]; got ",
                    offset.sizes());
  check_companion("offset", offset, input);
  check_companion("weight", weight, input);
  if (bias) check_companion("bias", *bias, input);
  if (mask) check_companion("mask", *mask, input);
  check_pair("stride", stride, 1);
  check_pair("padding", padding, 0);
  check_pair("dilation", dilation, 1);

  DeformConvGeometry g{};
  g.batch = input.size(0), g.channels = input.size(1);
  g.height = input.size(2), g.width = input.size(3);
  g.out_channels = weight.size(0), g.kh = weight.size(2), g.kw = weight.size(3);
  const int64_t group_channels = weight.size(1);
  g.stride_h = stride[0], g.stride_w = stride[1], g.pad_h = padding[0], g.pad_w = padding[1];
  g.dilation_h = dilation[0], g.dilation_w = dilation[1];
  TORCH_CHECK_VALUE(g.channels >= 1 && g.height >= 1 && g.width >= 1, kOp,
                    ": input must have C, H, W >= 1; got ", input.sizes());
  TORCH_CHECK_VALUE(weight.numel() > 0, kOp, ": weight must have non-zero sizes; got ",
                    weight.sizes());
  TORCH_CHECK_VALUE(g.channels % group_channels == 0, kOp, ": input channels (", g.channels,
                    ") must be a multiple of weight.shape[1] (", group_channels,
                    "), the channels per conv group");
  g.groups = g.channels / group_channels;
  TORCH_CHECK_VALUE(g.out_channels % g.groups == 0, kOp, ": weight.shape[0] (", g.out_channels,
                    ") must be a multiple of the conv groups (", g.groups,
                    " = input channels / weight.shape[1])");
  g.out_h = (g.height + 2 * g.pad_h - (g.dilation_h * (g.kh - 1) + 1)) / g.stride_h + 1;
  g.out_w = (g.width + 2 * g.pad_w - (g.dilation_w * (g.kw - 1) + 1)) / g.stride_w + 1;
  // C++ division truncates towards zero: a negative numerator above -stride still gives 1.
  const bool empty = g.height + 2 * g.pad_h < g.dilation_h * (g.kh - 1) + 1 ||
                     g.width + 2 * g.pad_w < g.dilation_w * (g.kw - 1) + 1;
  TORCH_CHECK_VALUE(!empty, kOp, ": the output would be empty: input ", g.height, " x ", g.width,
                    ", kernel ", g.kh, " x ", g.kw, ", stride ", stride, ", padding ", padding,
                    ", dilation ", dilation);

  const int64_t taps = g.taps(), offset_channels = offset.size(1);
  TORCH_CHECK_VALUE(offset_channels >= 2 * taps && offset_channels % (2 * taps) == 0, kOp,
                    ": offset channels (", offset_channels,
                    ") must be a positive multiple of 2 * kh * kw = ", 2 * taps);
  g.offset_groups = offset_channels / (2 * taps);
  TORCH_CHECK_VALUE(g.channels % g.offset_groups == 0, kOp, ": input channels (", g.channels,
                    ") must be a multiple of the offset groups (", g.offset_groups,
                    " = offset channels / (2 * kh * kw))");
  const std::vector<int64_t> offset_shape{g.batch, 2 * g.offset_groups * taps, g.out_h, g.out_w};
  TORCH_CHECK_VALUE(offset.sizes() == at::IntArrayRef(offset_shape), kOp,
                    ": offset must have shape [B, 2 * offset_groups * kh * kw, H_out, W_out] = ",
                    at::IntArrayRef(offset_shape), "; got ", offset.sizes());
  if (mask) {
    const std::vector<int64_t> mask_shape{g.batch, g.offset_groups * taps, g.out_h, g.out_w};
    TORCH_CHECK_VALUE(mask->sizes() == at::IntArrayRef(mask_shape), kOp,
                      ": mask must have shape [B, offset_groups * kh * kw, H_out, W_out] = ",
                      at::IntArrayRef(mask_shape), "; got ", mask->sizes());
  }
  if (bias) {
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == g.out_channels, kOp,
                      ": bias must have shape [C_out] = [", g.out_channels, "]; got ",
                      bias->sizes());
  }
  // The kernels index one image's planes and the column rows with 32-bit integers.
  TORCH_CHECK_VALUE(g.height * g.width < (int64_t{1} << 31) &&
                        g.column_rows() * g.out_plane() < (int64_t{1} << 31),
                    kOp, ": one image is too large (H * W and C * kh * kw * H_out * W_out must be "
                    "below 2^31); got input ", input.sizes(), " and weight ", weight.sizes());
  return g;
}

BorderRule parse_border_rule(c10::string_view rule) {
  if (rule == "torchvision") return BorderRule::kTorchvision;
  if (rule == "dcnv2") return BorderRule::kDcnv2;
  TORCH_CHECK_VALUE(false, kOp, ": border_rule must be one of 'torchvision', 'dcnv2'; got '",
                    rule, "'");
}

const at::Tensor* present(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? &*t : nullptr;
}

}  // namespace

DeformConvCall prepare_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                     const at::Tensor& weight,
                                     const std::optional<at::Tensor>& bias,
                                     at::IntArrayRef stride, at::IntArrayRef padding,
                                     at::IntArrayRef dilation,
                                     const std::optional<at::Tensor>& mask,
                                     c10::string_view border_rule) {
  DeformConvCall call;
  call.geometry = check_arguments(input, offset, weight, present(bias), stride, padding,
                                  dilation, present(mask));
  call.geometry.border_rule = parse_border_rule(border_rule);
  call.input = input.contiguous();
  call.offset = offset.contiguous();
  call.weight = weight.contiguous();
  if (present(bias)) call.bias = bias->contiguous();
  if (present(mask)) call.mask = mask->contiguous();
  return call;
}

DeformConvCall prepare_deform_conv2d_backward(const at::Tensor& grad_output,
                                              const at::Tensor& input, const at::Tensor& offset,
                                              const at::Tensor& weight,
                                              const std::optional<at::Tensor>& mask,
                                              at::IntArrayRef stride, at::IntArrayRef padding,
                                              at::IntArrayRef dilation,
                                              c10::string_view border_rule) {
  DeformConvCall call = prepare_deform_conv2d(input, offset, weight, std::nullopt, stride, padding,
                                              dilation, mask, border_rule);
  const DeformConvGeometry& g = call.geometry;
  const std::vector<int64_t> out_shape{g.batch, g.out_channels, g.out_h, g.out_w};
  TORCH_CHECK_VALUE(grad_output.sizes() == at::IntArrayRef(out_shape),
                    "deform_conv2d_backward: grad_output must have the output's shape ",
                    at::IntArrayRef(out_shape), "; got ", grad_output.sizes());
  TORCH_CHECK_VALUE(grad_output.device() == input.device(),
                    "deform_conv2d_backward: grad_output must be on the input's device (",
                    input.device(), "); got ", grad_output.device());
  call.grad_output = grad_output.to(input.scalar_type()).contiguous();
  return call;
}

namespace {

at::Tensor deform_conv2d_cpu(const at::Tensor& input, const at::Tensor& offset,
                             const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                             at::IntArrayRef stride, at::IntArrayRef padding,
                             at::IntArrayRef dilation, const std::optional<at::Tensor>& mask,
                             c10::string_view border_rule) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_keys());
  const DeformConvCall call = prepare_deform_conv2d(input, offset, weight, bias, stride, padding,
                                                    dilation, mask, border_rule);
  return deform_conv2d_forward_cpu_kernel(call);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& offset,
    const at::Tensor& weight, const std::optional<at::Tensor>& mask, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, std::array<bool, 3> output_mask,
    c10::string_view border_rule) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_keys());
  const DeformConvCall call = prepare_deform_conv2d_backward(
      grad_output, input, offset, weight, mask, stride, padding, dilation, border_rule);
  return deform_conv2d_backward_cpu_kernel(call, output_mask);
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CPU, m) {
  m.impl("deform_conv2d", &deform_conv2d_cpu);
  m.impl("deform_conv2d_backward", &deform_conv2d_backward_cpu);
}

}  // namespace centernet_fast
