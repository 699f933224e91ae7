#pragma once

#include "common/decode_params.h"

namespace centernet_fast {

// Writes every row of p.out on the CPU (p's pointers are host memory).
void ctdet_decode_cpu_kernel(const DecodeParams& p);

}  // namespace centernet_fast
