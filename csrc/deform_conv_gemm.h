// The matrix-product stage of deform_conv2d, shared by the CPU and CUDA registrations: both build
// the modulated column matrix of a chunk of images with their own kernels, then run these ATen
// products on it (on the columns' device).
#pragma once

#include <ATen/core/Tensor.h>

#include "common/deform_conv_params.h"

namespace centernet_fast {

// Float16 and bfloat16 are computed in float32, float64 in float64.
at::ScalarType deform_accumulate_type(at::ScalarType t);

// The first column_rows * n * plane entries of a flat column buffer as
// [groups, column_rows / groups, n * plane].
at::Tensor grouped_columns(const at::Tensor& columns, const DeformConvGeometry& g, int64_t n);

// Rows [first, first + n) of grad_output [B, C_out, H_out, W_out] in the accumulation options
// `acc`, regrouped as [groups, C_out / groups, n * plane]: the layout of the column products.
at::Tensor grouped_grad_output(const at::Tensor& grad_output, const DeformConvGeometry& g,
                               int64_t first, int64_t n, const at::TensorOptions& acc);

// out[first:first + n] = weight x columns (+ bias), rounded once to out's dtype.
// weight: [groups, C_out / groups, column_rows / groups]; bias: [groups, C_out / groups, 1, 1]
// or undefined; columns: the chunk's flat column buffer.
void write_chunk_output(const at::Tensor& weight, const at::Tensor& bias,
                        const at::Tensor& columns, const DeformConvGeometry& g, int64_t first,
                        int64_t n, at::Tensor& out);

}  // namespace centernet_fast
