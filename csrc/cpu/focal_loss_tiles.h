// The vectorised inner loop of the CPU focal loss: float tiles, integer exponents (the defaults
// alpha=2, beta=4 and every other small integer), compiled for several x86 vector widths and
// chosen at run time. Every variant runs the same IEEE operations in the same order, so the
// results are bit-identical whichever the CPU runs.
#pragma once

#include <cstdint>

#include "common/focal_loss_math.h"

namespace centernet_fast {

// out[i] = focal_term(x[i], t[i]).loss (or .grad when `grad`) for i < len.
// Requires cfg.alpha.integer >= 0 and cfg.beta.integer >= 0.
void focal_loss_float_tile(const float* x, const float* t, int64_t len, const FocalLossConfig& cfg,
                           bool grad, float* out);

// The instruction set the tiles run with: "avx512", "avx2" or "baseline".
const char* focal_loss_tile_isa();

}  // namespace centernet_fast
