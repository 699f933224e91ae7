// Autocast kernels of deform_conv2d (CPU and CUDA): inside torch.autocast the op runs in the
// context's dtype, like a convolution. The floating-point arguments on the autocast device (not
// float64 ones) are cast to torch.get_autocast_dtype(device) and the call goes on below
// autocast. The backward op needs no autocast kernel: it receives the cast tensors.
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <optional>

namespace centernet_fast {
namespace {

using DeformConvFn = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                const std::optional<at::Tensor>&, at::IntArrayRef,
                                at::IntArrayRef, at::IntArrayRef,
                                const std::optional<at::Tensor>&, c10::string_view);

template <c10::DeviceType device>
at::Tensor deform_conv2d_autocast(const at::Tensor& input, const at::Tensor& offset,
                                  const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                                  at::IntArrayRef stride, at::IntArrayRef padding,
                                  at::IntArrayRef dilation,
                                  const std::optional<at::Tensor>& mask,
                                  c10::string_view border_rule) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(
      at::autocast::get_autocast_dispatch_key_from_device_type(device));
  const at::ScalarType dtype = at::autocast::get_autocast_dtype(device);
  const auto cast = [&](const at::Tensor& t) { return at::autocast::cached_cast(dtype, t, device); };
  const auto cast_optional = [&](const std::optional<at::Tensor>& t) {
    return t.has_value() && t->defined() ? std::optional<at::Tensor>(cast(*t)) : std::nullopt;
  };
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("centernet_fast::deform_conv2d", "")
                             .typed<DeformConvFn>();
  return op.call(cast(input), cast(offset), cast(weight), cast_optional(bias), stride, padding,
                 dilation, cast_optional(mask), border_rule);
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, AutocastCPU, m) {
  m.impl("deform_conv2d", &deform_conv2d_autocast<c10::DeviceType::CPU>);
}

TORCH_LIBRARY_IMPL(centernet_fast, AutocastCUDA, m) {
  m.impl("deform_conv2d", &deform_conv2d_autocast<c10::DeviceType::CUDA>);
}

}  // namespace centernet_fast
