// The CPU deform_conv2d: per chunk of images, the sampling table, the modulated column matrix
// [C * taps, n * H_out * W_out] and one batched product with the weight over the conv groups.
// Scratch memory is bounded by the chunk (about kColumnBudget bytes of columns, at least one
// image), not by the batch.
#include "cpu/deform_conv_kernel.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <algorithm>
#include <array>

#include "cpu/deform_sampling.h"
#include "deform_conv_gemm.h"

namespace centernet_fast {
namespace {

constexpr int64_t kColumnBudget = int64_t{32} << 20;

using deform_cpu::ChunkPointers;
using deform_cpu::Sample;

int64_t chunk_images(const DeformConvGeometry& g, int64_t element_size) {
  const int64_t per_image = std::max<int64_t>(g.column_rows() * g.out_plane() * element_size, 1);
  return std::clamp<int64_t>(kColumnBudget / per_image, 1, std::max<int64_t>(g.batch, 1));
}

// Scratch buffers for one chunk size, reused by every chunk.
template <typename acc_t>
struct Scratch {
  at::Tensor samples, columns;
  Scratch(const DeformConvGeometry& g, int64_t chunk, const at::TensorOptions& acc) {
    const int64_t points = chunk * g.offset_groups * g.taps() * g.out_plane();
    samples = at::empty({points * static_cast<int64_t>(sizeof(Sample<acc_t>))},
                        acc.dtype(at::kByte));
    columns = at::empty({g.column_rows() * chunk * g.out_plane()}, acc);
  }
};

template <typename scalar_t, typename acc_t>
ChunkPointers<scalar_t, acc_t> chunk_pointers(const DeformConvCall& call, Scratch<acc_t>& scratch,
                                              int64_t first, int64_t n) {
  const DeformConvGeometry& g = call.geometry;
  const int64_t plane = g.out_plane(), taps = g.taps();
  ChunkPointers<scalar_t, acc_t> p;
  p.input = call.input.const_data_ptr<scalar_t>() + first * g.channels * g.height * g.width;
  p.offset = call.offset.const_data_ptr<scalar_t>() + first * 2 * g.offset_groups * taps * plane;
  p.mask = call.mask.defined()
               ? call.mask.const_data_ptr<scalar_t>() + first * g.offset_groups * taps * plane
               : nullptr;
  p.samples = reinterpret_cast<Sample<acc_t>*>(scratch.samples.data_ptr());
  p.columns = scratch.columns.template data_ptr<acc_t>();
  p.n = n;
  return p;
}

template <typename scalar_t, typename acc_t>
void forward(const DeformConvCall& call, at::Tensor& out) {
  const DeformConvGeometry& g = call.geometry;
  const auto acc = call.input.options().dtype(deform_accumulate_type(call.input.scalar_type()));
  const int64_t chunk = chunk_images(g, sizeof(acc_t));
  const int64_t og = g.out_channels / g.groups;
  const at::Tensor weight = call.weight.to(acc).view({g.groups, og, -1});
  const at::Tensor bias = call.bias.defined() ? call.bias.to(acc).view({g.groups, og, 1, 1})
                                              : at::Tensor();
  Scratch<acc_t> scratch(g, chunk, acc);
  for (int64_t first = 0; first < g.batch; first += chunk) {
    const int64_t n = std::min(chunk, g.batch - first);
    const auto p = chunk_pointers<scalar_t, acc_t>(call, scratch, first, n);
    deform_cpu::build_samples(g, p);
    deform_cpu::gather_columns(g, p);
    write_chunk_output(weight, bias, scratch.columns, g, first, n, out);
  }
}

template <typename scalar_t, typename acc_t>
void backward(const DeformConvCall& call, std::array<bool, 3> output_mask, at::Tensor& grad_input,
              at::Tensor& grad_offset, at::Tensor& grad_weight, at::Tensor& grad_mask) {
  const DeformConvGeometry& g = call.geometry;
  const auto [need_input, need_offset_mask, need_weight] = output_mask;
  const auto acc = call.input.options().dtype(deform_accumulate_type(call.input.scalar_type()));
  const int64_t chunk = chunk_images(g, sizeof(acc_t)), plane = g.out_plane();
  const int64_t og = g.out_channels / g.groups, hw = g.height * g.width;
  const bool need_columns_grad = need_input || need_offset_mask;
  const at::Tensor weight_t = need_columns_grad
      ? call.weight.to(acc).view({g.groups, og, -1}).transpose(1, 2) : at::Tensor();
  // grad_input is scattered into directly when it has the accumulation dtype.
  const bool direct = grad_input.scalar_type() == acc.dtype().toScalarType();
  at::Tensor grad_input_chunk =
      direct || !need_input ? at::Tensor() : at::empty({chunk, g.channels, hw}, acc);
  at::Tensor grad_weight_acc = need_weight
      ? at::zeros({g.groups, og, g.column_rows() / g.groups}, acc) : at::Tensor();
  Scratch<acc_t> scratch(g, chunk, acc);
  for (int64_t first = 0; first < g.batch; first += chunk) {
    const int64_t n = std::min(chunk, g.batch - first);
    const auto p = chunk_pointers<scalar_t, acc_t>(call, scratch, first, n);
    deform_cpu::build_samples(g, p);
    const at::Tensor grad_out = grouped_grad_output(call.grad_output, g, first, n, acc);
    if (need_weight) {
      deform_cpu::gather_columns(g, p);
      const at::Tensor columns = grouped_columns(scratch.columns, g, n);
      grad_weight_acc.baddbmm_(grad_out, columns.transpose(1, 2));  // chunks added in order
    }
    if (!need_columns_grad) continue;
    // [groups, rows, n * plane], written into the column buffer (its columns are used up).
    at::Tensor grad_columns = grouped_columns(scratch.columns, g, n);
    at::bmm_out(grad_columns, weight_t, grad_out);
    const acc_t* gcol = grad_columns.const_data_ptr<acc_t>();
    if (need_input) {
      acc_t* gin = direct ? grad_input.data_ptr<acc_t>() + first * g.channels * hw
                          : grad_input_chunk.zero_().data_ptr<acc_t>();
      deform_cpu::scatter_input(g, p, gcol, gin);
      if (!direct) {
        grad_input.narrow(0, first, n).view({n, g.channels, hw})
            .copy_(grad_input_chunk.narrow(0, 0, n));
      }
    }
    if (need_offset_mask) {
      const int64_t offset_row = 2 * g.offset_groups * g.taps() * plane;
      deform_cpu::offset_mask_gradients(
          g, p, gcol, grad_offset.data_ptr<scalar_t>() + first * offset_row,
          grad_mask.data_ptr<scalar_t>() + first * (offset_row / 2));
    }
  }
  if (need_weight) grad_weight.copy_(grad_weight_acc.view(grad_weight.sizes()));
}

}  // namespace

at::Tensor deform_conv2d_forward_cpu_kernel(const DeformConvCall& call) {
  const DeformConvGeometry& g = call.geometry;
  at::Tensor out = at::empty({g.batch, g.out_channels, g.out_h, g.out_w}, call.input.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, call.input.scalar_type(),
                                  "deform_conv2d_forward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    forward<scalar_t, acc_t>(call, out);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
deform_conv2d_backward_cpu_kernel(const DeformConvCall& call, std::array<bool, 3> output_mask) {
  const DeformConvGeometry& g = call.geometry;
  const auto options = call.input.options();
  at::Tensor grad_input = output_mask[0] ? at::zeros_like(call.input) : at::empty_like(call.input);
  at::Tensor grad_offset = at::empty_like(call.offset);
  at::Tensor grad_weight = at::empty_like(call.weight);
  at::Tensor grad_mask =
      at::empty({g.batch, g.offset_groups * g.taps(), g.out_h, g.out_w}, options);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, call.input.scalar_type(),
                                  "deform_conv2d_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    backward<scalar_t, acc_t>(call, output_mask, grad_input, grad_offset, grad_weight, grad_mask);
  });
  const auto acc = deform_accumulate_type(call.input.scalar_type());
  at::Tensor grad_bias =
      output_mask[2] ? call.grad_output.to(acc).sum({0, 2, 3}).to(call.input.scalar_type())
                     : at::empty({g.out_channels}, options);
  return {grad_input, grad_offset, grad_weight, grad_bias, grad_mask};
}

}  // namespace centernet_fast
