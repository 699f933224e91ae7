// The raw-pointer parameters of the focal-loss kernels (CPU and CUDA), filled by the checked
// entry points in focal_loss.cpp.
#pragma once

#include <cstdint>

#include "common/dtype.h"
#include "common/focal_loss_math.h"

namespace centernet_fast {

struct FocalLossParams {
  const void* logits;   // [n] of logits_dtype
  const void* target;   // [n] of target_dtype
  int64_t n;
  Dtype logits_dtype, target_dtype;  // the target's is float32 or the logits
  FocalLossConfig config;
  // forward outputs: 0-dim loss (float32, float64 for float64 logits) and int64 positive count
  void* loss;
  int64_t* num_pos;
  // backward: 0-dim incoming gradient (the loss's dtype), the forward's count, and the output
  const void* grad_loss;
  const int64_t* num_pos_in;
  void* grad_logits;    // [n] of logits_dtype
};

}  // namespace centernet_fast
