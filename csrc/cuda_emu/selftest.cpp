// The emulation's self-test op: centernet_fast_cuda_emu::selftest(out, name) runs one kernel of
// selftest_kernel.cu on `out` (zero-filled int64, 1024 elements), or raises the launch error.
#include <ATen/ATen.h>
#include <torch/library.h>

#include <string>

#include "cuda/launch_utils.h"
#include "cuda_emu/selftest_kernel.cuh"

namespace centernet_fast {
namespace {

constexpr int64_t kOutputSize = 1024;

void emu_selftest(at::Tensor& out, c10::string_view name) {
  TORCH_CHECK_VALUE(out.dtype() == at::kLong && out.numel() == kOutputSize && out.is_contiguous(),
                    "selftest: out must be a contiguous int64 tensor of ", kOutputSize,
                    " elements");
  out.zero_();
  const std::string n(name);
  cudaError_t err = cudaSuccess;
  TORCH_CHECK_VALUE(launch_emu_selftest(n.c_str(), out.data_ptr<int64_t>(), &err),
                    "selftest: unknown name '", n, "'");
  check_launch(n.c_str(), err);
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(centernet_fast_cuda_emu, m) {
  m.def("selftest(Tensor(a!) out, str name) -> ()");
}

TORCH_LIBRARY_IMPL(centernet_fast, CUDA, m) {
  m.impl("selftest", &emu_selftest);
}

}  // namespace centernet_fast
