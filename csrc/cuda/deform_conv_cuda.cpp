// CUDA registrations of deform_conv2d and deform_conv2d_backward. Host code: the checks, the
// scratch buffers, the matrix products (cuBLAS through at::bmm) and the sort of the input
// gradient; the sampling kernels live in deform_conv_kernel.cu.
//
// Per chunk of images (scratch bounded by kScratchBudget, at least one image):
//   forward   columns = modulated samples [C taps, n plane]; out = W_g . columns_g (+ bias)
//   backward  (each part only when output_mask asks for its gradients)
//             grad_W += grad_out_g . columns_g^T (chunks added in order);
//             grad_columns = W_g^T . grad_out_g;
//             grad_offset, grad_mask: one thread per sampling point, channels added in order;
//             grad_input: a gather. Every (point, neighbour) pair gets the key of the input pixel
//             it touches; a stable sort groups the pairs by pixel in a fixed order, and one thread
//             per input element adds its group's terms. No float atomics, so the input gradient
//             is deterministic for any offsets (and adds its terms in the CPU kernel's order).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>

#include "cuda/deform_conv_kernel.cuh"
#include "cuda/launch_utils.h"
#include "deform_conv.h"
#include "deform_conv_gemm.h"
#include "dtype_of.h"

namespace centernet_fast {
namespace {

constexpr int64_t kScratchBudget = int64_t{128} << 20;

// Images per chunk: the columns, and in the backward also the column gradient and the sort's
// buffers (keys, sorted keys, order: 3 x int64, weights: acc, four per sampling point).
int64_t chunk_images(const DeformConvGeometry& g, int64_t acc_size, bool backward) {
  int64_t per_image = g.column_rows() * g.out_plane() * acc_size * (backward ? 2 : 1);
  if (backward) per_image += 4 * g.offset_groups * g.taps() * g.out_plane() * (24 + acc_size);
  return std::clamp<int64_t>(kScratchBudget / std::max<int64_t>(per_image, 1), 1,
                             std::max<int64_t>(g.batch, 1));
}

DeformConvChunk chunk_of(const DeformConvCall& call, int64_t first, int64_t n) {
  DeformConvChunk c;
  c.g = call.geometry;
  c.dtype = dtype_of(call.input.scalar_type());
  c.n = n;
  c.input = call.input.narrow(0, first, n).const_data_ptr();
  c.offset = call.offset.narrow(0, first, n).const_data_ptr();
  c.mask = call.mask.defined() ? call.mask.narrow(0, first, n).const_data_ptr() : nullptr;
  return c;
}

// The input gradient of one chunk: key every (sampling point, neighbour) pair by the input
// pixel it touches, stable-sort the keys (a fixed order per pixel), then one thread per input
// element adds its pixel's segment. points = sampling points of the chunk, pixels = input
// pixels of the chunk (images x offset groups x H x W).
void scatter_input_grad(const DeformConvChunk& c, const at::Tensor& grad_columns,
                        const at::Tensor& keys, const at::Tensor& weights, int64_t points,
                        int64_t pixels, at::Tensor grad_input, cudaStream_t stream) {
  const at::Tensor chunk_keys = keys.narrow(0, 0, 4 * points);
  const at::Tensor chunk_weights = weights.narrow(0, 0, 4 * points);
  check_launch("deform_conv2d_backward",
               launch_deform_input_grad_keys(c, chunk_keys.data_ptr<int64_t>(),
                                             chunk_weights.data_ptr(), stream));
  const auto [sorted_keys, order] = at::sort(chunk_keys, /*stable=*/true, 0, false);
  // starts[s] = the first sorted entry with key >= s; segment s is [starts[s], starts[s + 1]).
  const at::Tensor starts =
      at::searchsorted(sorted_keys, at::arange(pixels + 1, keys.options()));
  check_launch("deform_conv2d_backward",
               launch_deform_input_grad_gather(
                   c, grad_columns.const_data_ptr(), order.const_data_ptr<int64_t>(),
                   starts.const_data_ptr<int64_t>(), chunk_weights.const_data_ptr(),
                   grad_input.data_ptr(), stream));
}

at::Tensor deform_conv2d_cuda(const at::Tensor& input, const at::Tensor& offset,
                              const at::Tensor& weight, const std::optional<at::Tensor>& bias,
                              at::IntArrayRef stride, at::IntArrayRef padding,
                              at::IntArrayRef dilation, const std::optional<at::Tensor>& mask,
                              c10::string_view border_rule) {
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_keys());
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(input));
  const DeformConvCall call = prepare_deform_conv2d(input, offset, weight, bias, stride, padding,
                                                    dilation, mask, border_rule);
  const DeformConvGeometry& g = call.geometry;
  const auto acc = call.input.options().dtype(deform_accumulate_type(call.input.scalar_type()));
  const int64_t chunk = chunk_images(g, acc.dtype().itemsize(), false), plane = g.out_plane();
  const int64_t og = g.out_channels / g.groups;
  at::Tensor out = at::empty({g.batch, g.out_channels, g.out_h, g.out_w}, call.input.options());
  const at::Tensor w = call.weight.to(acc).view({g.groups, og, -1});
  const at::Tensor b = call.bias.defined() ? call.bias.to(acc).view({g.groups, og, 1, 1})
                                           : at::Tensor();
  const at::Tensor columns = at::empty({g.column_rows() * chunk * plane}, acc);
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  for (int64_t first = 0; first < g.batch; first += chunk) {
    const int64_t n = std::min(chunk, g.batch - first);
    check_launch("deform_conv2d",
                 launch_deform_columns(chunk_of(call, first, n), columns.data_ptr(), stream));
    write_chunk_output(w, b, columns, g, first, n, out);
  }
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> deform_conv2d_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& offset,
    const at::Tensor& weight, const std::optional<at::Tensor>& mask, at::IntArrayRef stride,
    at::IntArrayRef padding, at::IntArrayRef dilation, std::array<bool, 3> output_mask,
    c10::string_view border_rule) {
  // output_mask = (input, offset + mask, weight + bias); gradients left out hold unspecified
  // values, as on the CPU.
  const bool need_input = output_mask[0], need_offset = output_mask[1],
             need_weight = output_mask[2];
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(autocast_keys());
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(input));
  const DeformConvCall call = prepare_deform_conv2d_backward(
      grad_output, input, offset, weight, mask, stride, padding, dilation, border_rule);
  const DeformConvGeometry& g = call.geometry;
  const auto options = call.input.options();
  const auto acc = options.dtype(deform_accumulate_type(call.input.scalar_type()));
  const int64_t chunk = chunk_images(g, acc.dtype().itemsize(), true), plane = g.out_plane();
  const int64_t og = g.out_channels / g.groups, hw = g.height * g.width;
  const int64_t points = g.offset_groups * g.taps() * plane;  // per image

  at::Tensor grad_input = at::empty_like(call.input);
  at::Tensor grad_offset = at::empty_like(call.offset);
  at::Tensor grad_mask = at::empty({g.batch, g.offset_groups * g.taps(), g.out_h, g.out_w}, options);
  at::Tensor grad_weight_acc =
      need_weight ? at::zeros({g.groups, og, g.column_rows() / g.groups}, acc) : at::Tensor();
  const at::Tensor weight_t = call.weight.to(acc).view({g.groups, og, -1}).transpose(1, 2);
  const at::Tensor columns =
      need_weight ? at::empty({g.column_rows() * chunk * plane}, acc) : at::Tensor();
  const at::Tensor keys =
      need_input ? at::empty({4 * chunk * points}, options.dtype(at::kLong)) : at::Tensor();
  const at::Tensor weights = need_input ? at::empty({4 * chunk * points}, acc) : at::Tensor();
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  for (int64_t first = 0; first < g.batch; first += chunk) {
    const int64_t n = std::min(chunk, g.batch - first);
    const DeformConvChunk c = chunk_of(call, first, n);
    const at::Tensor grad_out = grouped_grad_output(call.grad_output, g, first, n, acc);
    if (need_weight) {
      check_launch("deform_conv2d_backward", launch_deform_columns(c, columns.data_ptr(), stream));
      grad_weight_acc.baddbmm_(grad_out, grouped_columns(columns, g, n).transpose(1, 2));
    }
    if (!need_input && !need_offset) continue;
    // [groups, rows / groups, n * plane] = [C taps, n plane], the columns' layout.
    const at::Tensor grad_columns = at::bmm(weight_t, grad_out).contiguous();
    if (need_offset) {
      check_launch("deform_conv2d_backward",
                   launch_deform_offset_mask_grad(c, grad_columns.const_data_ptr(),
                                                  grad_offset.narrow(0, first, n).data_ptr(),
                                                  grad_mask.narrow(0, first, n).data_ptr(),
                                                  stream));
    }
    if (need_input) {
      scatter_input_grad(c, grad_columns, keys, weights, n * points, n * g.offset_groups * hw,
                         grad_input.narrow(0, first, n), stream);
    }
  }
  at::Tensor grad_weight = need_weight
      ? grad_weight_acc.view(call.weight.sizes()).to(call.weight.scalar_type())
      : at::empty_like(call.weight);
  at::Tensor grad_bias = need_weight
      ? call.grad_output.to(acc.dtype()).sum({0, 2, 3}).to(call.input.scalar_type())
      : at::empty({g.out_channels}, options);
  return {grad_input, grad_offset, grad_weight, grad_bias, grad_mask};
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CUDA, m) {
  m.impl("deform_conv2d", &deform_conv2d_cuda);
  m.impl("deform_conv2d_backward", &deform_conv2d_backward_cuda);
}

}  // namespace centernet_fast
