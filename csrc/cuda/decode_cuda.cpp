// CUDA registration of ctdet_decode: check, allocate the scratch keys, launch on the current
// stream. Compiled by the host compiler; the kernels live in decode_kernel.cu.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <optional>

#include "cuda/decode_kernel.cuh"
#include "cuda/launch_utils.h"
#include "decode.h"

namespace centernet_fast {
namespace {

at::Tensor ctdet_decode_cuda(const at::Tensor& heat, const at::Tensor& wh,
                             const std::optional<at::Tensor>& reg, int64_t K, bool cat_spec_wh,
                             bool logits, std::optional<double> threshold) {
  constexpr const char* op = "ctdet_decode";
  const c10::cuda::OptionalCUDAGuard guard(cuda_device_of(heat));
  const DecodeCall call = prepare_ctdet_decode(heat, wh, reg, K, cat_spec_wh, logits, threshold);
  const DecodeParams& p = call.params;
  if (p.batch == 0) return call.out;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  const auto int64_options = call.heat.options().dtype(at::kLong);
  if (p.k <= kDecodeMaxSortedK) {
    // Each tile's best min(K, tile) keys; key 0 marks unused slots.
    const at::Tensor candidates = at::empty({p.batch, decode_tile_count(p), p.k}, int64_options);
    check_launch(op, launch_ctdet_decode(
                         p, reinterpret_cast<uint64_t*>(candidates.data_ptr<int64_t>()), stream));
  } else {
    const at::Tensor keys = at::empty({p.batch, static_cast<int64_t>(num_cells(p))}, int64_options);
    check_launch(op, launch_decode_key_map(p, keys.data_ptr<int64_t>(), stream));
    const at::Tensor sorted = std::get<0>(at::sort(keys, /*dim=*/1, /*descending=*/true));
    check_launch(op, launch_decode_write_sorted(p, sorted.data_ptr<int64_t>(), stream));
  }
  return call.out;
}

}  // namespace

TORCH_LIBRARY_IMPL(centernet_fast, CUDA, m) {
  m.impl("ctdet_decode", &ctdet_decode_cuda);
}

}  // namespace centernet_fast
