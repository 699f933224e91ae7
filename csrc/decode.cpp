// Argument checks of ctdet_decode and its CPU registration.
#include "decode.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <limits>
#include <vector>

#include "cpu/decode_kernel.h"
#include "dtype_of.h"

namespace centernet_fast {
namespace {

constexpr const char* kOp = "ctdet_decode";

Dtype heat_dtype_of(const at::Tensor& heat) {
  const auto t = heat.scalar_type();
  TORCH_CHECK_VALUE(t == at::kFloat || t == at::kHalf || t == at::kBFloat16, kOp,
                    ": heat must be float32, float16 or bfloat16; got ", t);
  return dtype_of(t);
}

// wh and reg: [B, channels, H, W] matching heat, any floating dtype, on heat's device.
void check_map(const char* arg, const at::Tensor& t, const at::Tensor& heat, int64_t channels,
               const char* channels_name) {
  const std::vector<int64_t> expected = {heat.size(0), channels, heat.size(2), heat.size(3)};
  TORCH_CHECK_VALUE(t.dim() == 4 && t.sizes() == at::IntArrayRef(expected), kOp, ": ", arg,
                    " must have shape [B, ", channels_name, ", H, W] = ", at::IntArrayRef(expected),
                    " to match heat; got ", t.sizes());
  TORCH_CHECK_VALUE(at::isFloatingType(t.scalar_type()), kOp, ": ", arg,
                    " must be a floating-point tensor; got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.device() == heat.device(), kOp, ": ", arg,
                    " must be on the same device as heat (", heat.device(), "); got ", t.device());
}

// The threshold as float32, rounded to nearest with overflow to +-inf (IEEE conversion, spelled
// out because an out-of-range double-to-float cast is undefined in C++).
float threshold_as_float(double t) {
  constexpr double kOverflow = 0x1.ffffffp127;  // FLT_MAX + half an ulp: rounds to infinity
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (t >= kOverflow) return kInf;
  if (t <= -kOverflow) return -kInf;
  return static_cast<float>(t);
}

}  // namespace

DecodeCall prepare_ctdet_decode(const at::Tensor& heat, const at::Tensor& wh,
                                const std::optional<at::Tensor>& reg, int64_t K, bool cat_spec_wh,
                                bool logits, std::optional<double> threshold) {
  TORCH_CHECK_VALUE(heat.dim() == 4, kOp, ": heat must have shape [B, C, H, W]; got ",
                    heat.sizes());
  const Dtype heat_dtype = heat_dtype_of(heat);
  const int64_t batch = heat.size(0), classes = heat.size(1);
  const int64_t height = heat.size(2), width = heat.size(3);
  TORCH_CHECK_VALUE(classes >= 1 && height >= 1 && width >= 1, kOp,
                    ": heat must have shape [B, C, H, W] with C, H, W >= 1; got ", heat.sizes());
  // The kernels index cells of one image with 32-bit integers (the composite key's low word).
  TORCH_CHECK_VALUE(classes * height * width < (int64_t{1} << 31), kOp,
                    ": heat's C * H * W must be below 2^31; got ", heat.sizes());
  check_map("wh", wh, heat, cat_spec_wh ? 2 * classes : 2, cat_spec_wh ? "2C" : "2");
  if (reg.has_value()) check_map("reg", *reg, heat, 2, "2");
  TORCH_CHECK_VALUE(K >= 1, kOp, ": K must be at least 1; got ", K);

  DecodeCall call;
  call.heat = heat.contiguous();
  call.wh = wh.to(at::kFloat).contiguous();
  if (reg.has_value()) call.reg = reg->to(at::kFloat).contiguous();
  call.out = at::empty({batch, K, 6}, heat.options().dtype(at::kFloat));

  DecodeParams& p = call.params;
  p.heat = call.heat.data_ptr();
  p.heat_dtype = heat_dtype;
  p.wh = call.wh.data_ptr<float>();
  p.reg = reg.has_value() ? call.reg.data_ptr<float>() : nullptr;
  p.out = call.out.data_ptr<float>();
  p.batch = batch;
  p.classes = static_cast<int32_t>(classes);
  p.height = static_cast<int32_t>(height);
  p.width = static_cast<int32_t>(width);
  p.k = K;
  p.cat_spec_wh = cat_spec_wh;
  p.logits = logits;
  p.has_threshold = threshold.has_value();
  p.threshold = threshold.has_value() ? threshold_as_float(*threshold) : 0.f;
  return call;
}

namespace {

at::Tensor ctdet_decode_cpu(const at::Tensor& heat, const at::Tensor& wh,
                            const std::optional<at::Tensor>& reg, int64_t K, bool cat_spec_wh,
                            bool logits, std::optional<double> threshold) {
  const DecodeCall call = prepare_ctdet_decode(heat, wh, reg, K, cat_spec_wh, logits, threshold);
  ctdet_decode_cpu_kernel(call.params);
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CPU, m) {
  m.impl("ctdet_decode", &ctdet_decode_cpu);
}

}  // namespace centernet_fast
