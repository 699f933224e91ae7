// The matrix-product stage of deform_conv2d shared by the CPU and CUDA registrations.
#include "deform_conv_gemm.h"

#include <ATen/ATen.h>

namespace centernet_fast {

at::ScalarType deform_accumulate_type(at::ScalarType t) {
  return t == at::kDouble ? at::kDouble : at::kFloat;
}

at::Tensor grouped_columns(const at::Tensor& columns, const DeformConvGeometry& g, int64_t n) {
  const int64_t width = n * g.out_plane();
  return columns.narrow(0, 0, g.column_rows() * width)
      .view({g.groups, g.column_rows() / g.groups, width});
}

at::Tensor grouped_grad_output(const at::Tensor& grad_output, const DeformConvGeometry& g,
                               int64_t first, int64_t n, const at::TensorOptions& acc) {
  const int64_t og = g.out_channels / g.groups, plane = g.out_plane();
  // [n, C_out, plane] -> [groups, og, n * plane]
  return grad_output.narrow(0, first, n)
      .view({n, g.groups, og, plane})
      .permute({1, 2, 0, 3})
      .to(acc)
      .contiguous()
      .view({g.groups, og, n * plane});
}

void write_chunk_output(const at::Tensor& weight, const at::Tensor& bias,
                        const at::Tensor& columns, const DeformConvGeometry& g, int64_t first,
                        int64_t n, at::Tensor& out) {
  const int64_t og = g.out_channels / g.groups, plane = g.out_plane();
  at::Tensor result = at::bmm(weight, grouped_columns(columns, g, n)).view({g.groups, og, n, plane});
  if (bias.defined()) result.add_(bias);
  // [groups, og, n, plane] -> [n, C_out, plane], rounding once to the output dtype.
  out.narrow(0, first, n).view({n, g.groups, og, plane}).copy_(result.permute({2, 0, 1, 3}));
}

}  // namespace centernet_fast
