// Argument checking and output allocation of ctdet_decode, shared by the CPU and CUDA
// registrations so that both reject the same inputs with the same messages.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "common/decode_params.h"

namespace centernet_fast {

// A checked ctdet_decode call: heat contiguous in its own dtype, wh and reg contiguous float32,
// the uninitialised [B, K, 6] float32 output (the kernels write every element) and the kernel
// parameters pointing at them.
struct DecodeCall {
  at::Tensor heat, wh, reg, out;
  DecodeParams params;
};

DecodeCall prepare_ctdet_decode(const at::Tensor& heat, const at::Tensor& wh,
                                const std::optional<at::Tensor>& reg, int64_t K, bool cat_spec_wh,
                                bool logits, std::optional<double> threshold);

}  // namespace centernet_fast
