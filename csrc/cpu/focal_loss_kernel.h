// CPU kernels of the focal loss: the deterministic forward reduction and the gradient.
#pragma once

#include "common/focal_loss_params.h"

namespace centernet_fast {

// Writes the float32 loss to *p.loss and the positive count to *p.num_pos. The sum runs over
// fixed chunks of elements added in index order, so it does not depend on the thread count.
void focal_loss_forward_cpu_kernel(const FocalLossParams& p);

// p.grad_logits[i] = -(*p.grad_loss) / max(*p.num_pos, 1) * d term_i / d logit_i.
void focal_loss_backward_cpu_kernel(const FocalLossParams& p);

}  // namespace centernet_fast
