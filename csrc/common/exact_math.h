// Arithmetic that nvcc may not contract into fused multiply-adds, shared by the CPU and CUDA
// kernels whose results must be bit-identical (and equal to the original numpy code): on the
// device these are the round-to-nearest intrinsics, on the host the plain operators (host code
// is compiled with -ffp-contract=off). A fused multiply-add rounds once instead of twice, which
// can move an exactly integral Gaussian radius to the wrong side of an integer or change the last
// bit of a box coordinate.
#pragma once

#include <cmath>

#include "common/host_device.h"

namespace centernet_fast {

// float: the box rows of ctdet_decode; double: the Gaussian radius and window of ctdet_targets.
// fhalf(a) is a / 2, exactly as IEEE division rounds it.
#if defined(__CUDA_ARCH__)
CNF_HOST_DEVICE float fadd(float a, float b) { return __fadd_rn(a, b); }
CNF_HOST_DEVICE float fsub(float a, float b) { return __fsub_rn(a, b); }
CNF_HOST_DEVICE float fhalf(float a) { return __fmul_rn(a, 0.5f); }
CNF_HOST_DEVICE double dmul(double a, double b) { return __dmul_rn(a, b); }
CNF_HOST_DEVICE double dadd(double a, double b) { return __dadd_rn(a, b); }
CNF_HOST_DEVICE double dsub(double a, double b) { return __dsub_rn(a, b); }
CNF_HOST_DEVICE double ddiv(double a, double b) { return __ddiv_rn(a, b); }
CNF_HOST_DEVICE double dsqrt(double a) { return __dsqrt_rn(a); }
#else
CNF_HOST_DEVICE float fadd(float a, float b) { return a + b; }
CNF_HOST_DEVICE float fsub(float a, float b) { return a - b; }
CNF_HOST_DEVICE float fhalf(float a) { return a * 0.5f; }
CNF_HOST_DEVICE double dmul(double a, double b) { return a * b; }
CNF_HOST_DEVICE double dadd(double a, double b) { return a + b; }
CNF_HOST_DEVICE double dsub(double a, double b) { return a - b; }
CNF_HOST_DEVICE double ddiv(double a, double b) { return a / b; }
CNF_HOST_DEVICE double dsqrt(double a) { return std::sqrt(a); }
#endif

}  // namespace centernet_fast
