// The bits of a float and back, on the host (memcpy, which compilers turn into a register move,
// also inside vectorised loops) and on the device (the CUDA intrinsics).
#pragma once

#include <cstdint>
#include <cstring>

#include "common/host_device.h"

namespace centernet_fast {

CNF_HOST_DEVICE uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

CNF_HOST_DEVICE float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

}  // namespace centernet_fast
