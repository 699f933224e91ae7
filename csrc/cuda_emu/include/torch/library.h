// Shim of torch/library.h for the CPU emulation. The emulation library holds the same sources as
// the real extension, so their registrations are re-targeted to live beside it in one process:
//   TORCH_LIBRARY(centernet_fast)               -> namespace centernet_fast_cuda_emu
//   TORCH_LIBRARY_IMPL(centernet_fast, CUDA)    -> (centernet_fast_cuda_emu, CPU): the CUDA
//                                                  registrations, run on CPU tensors
//   TORCH_LIBRARY_IMPL(centernet_fast, other)   -> namespace centernet_fast_cuda_emu_unused (the
//                                                  CPU kernels are only compiled, for the shared
//                                                  argument checks they sit beside)
#pragma once

#include_next <torch/library.h>

#undef TORCH_LIBRARY
#undef TORCH_LIBRARY_IMPL
#define TORCH_LIBRARY(ns, m) _TORCH_LIBRARY_FRAGMENT(ns##_cuda_emu, m, C10_UID)
#define TORCH_LIBRARY_IMPL(ns, k, m) CNF_EMU_LIBRARY_IMPL_##k(ns, m)
#define CNF_EMU_LIBRARY_IMPL_CUDA(ns, m) _TORCH_LIBRARY_IMPL(ns##_cuda_emu, CPU, m, C10_UID)
#define CNF_EMU_LIBRARY_IMPL_CPU(ns, m) _TORCH_LIBRARY_IMPL(ns##_cuda_emu_unused, CPU, m, C10_UID)
#define CNF_EMU_LIBRARY_IMPL_AutocastCPU(ns, m) \
  _TORCH_LIBRARY_IMPL(ns##_cuda_emu_unused, AutocastCPU, m, C10_UID)
#define CNF_EMU_LIBRARY_IMPL_AutocastCUDA(ns, m) \
  _TORCH_LIBRARY_IMPL(ns##_cuda_emu_unused, AutocastCUDA, m, C10_UID)
