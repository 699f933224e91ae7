// The kernels' Dtype of a tensor's at::ScalarType, for the host code that fills the params
// structs. The entry points check dtypes first, with messages naming the argument.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include "common/dtype.h"

namespace centernet_fast {

inline Dtype dtype_of(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return Dtype::kFloat32;
    case at::kDouble: return Dtype::kFloat64;
    case at::kHalf: return Dtype::kFloat16;
    case at::kBFloat16: return Dtype::kBFloat16;
    default: TORCH_CHECK(false, "centernet_fast: no kernel for dtype ", t);
  }
}

}  // namespace centernet_fast
