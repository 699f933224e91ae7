// Kernels that check the CPU emulation itself: warp intrinsics against CUDA's definitions, and
// misuses (races, divergent barriers, exited lanes, launch limits) that it must expose. Built
// only into the emulation library; tests/test_cuda_emu_selftest.py states the expected results.
#include "cuda_emu/selftest_kernel.cuh"

#include <cstring>

namespace centernet_fast {
namespace {

constexpr unsigned int kFull = 0xffffffffu;

__global__ void warp_reduce_kernel(int64_t* out) {
  long long v = threadIdx.x;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(kFull, v, offset);
  if (threadIdx.x % 32 == 0) out[threadIdx.x / 32] = v;
}

__global__ void warp_scan_kernel(int64_t* out) {
  unsigned int v = threadIdx.x;
  for (unsigned int d = 1; d < 32; d <<= 1) {
    const unsigned int below = __shfl_up_sync(kFull, v, d);
    if (threadIdx.x % 32 >= d) v += below;
  }
  out[threadIdx.x] = v;
}

__global__ void warp_xor_kernel(int64_t* out) {
  double v = threadIdx.x;
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(kFull, v, m);
  out[threadIdx.x] = static_cast<int64_t>(v);
}

__global__ void shfl_width_kernel(int64_t* out) {
  out[threadIdx.x] = __shfl_sync(kFull, static_cast<int>(threadIdx.x), 3, 8);
}

__global__ void vote_kernel(int64_t* out) {
  const unsigned int lane = threadIdx.x % 32;
  const unsigned int odd = __ballot_sync(kFull, lane % 2);
  const unsigned int peers = __match_any_sync(kFull, lane % 3);
  const int any = __any_sync(kFull, threadIdx.x == 40), all = __all_sync(kFull, lane < 31);
  out[threadIdx.x] = (int64_t{odd} << 32) | peers;
  out[blockDim.x + threadIdx.x] = any * 2 + all;
}

__global__ void atomic_count_kernel(int64_t* out) {
  atomicAdd(reinterpret_cast<unsigned long long*>(out), 1ull);
  atomicMax(reinterpret_cast<int*>(out + 1), static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x));
}

// Thread t writes its slot and reads its neighbour's; `synced` puts the barrier between.
template <bool kSynced>
__global__ void neighbour_kernel(int64_t* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = static_cast<int>(threadIdx.x) + 1;
  if (kSynced) __syncthreads();
  out[threadIdx.x] = slots[(threadIdx.x + 1) % 64];
}

__global__ void divergent_barrier_kernel(int64_t* out) {
  if (threadIdx.x < 16) __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void barrier_after_exit_kernel(int64_t* out) {
  if (threadIdx.x >= 32) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void partial_warp_shuffle_kernel(int64_t* out) {
  int v = threadIdx.x;
  if (threadIdx.x < 16) v = __shfl_down_sync(kFull, v, 1);
  out[threadIdx.x] = v;
}

__global__ void source_outside_mask_kernel(int64_t* out) {
  int v = threadIdx.x;
  if (threadIdx.x < 16) v = __shfl_down_sync(0x0000ffffu, v, 8);
  out[threadIdx.x] = v;
}

__global__ void oversized_shared_kernel(int64_t* out) {
  __shared__ uint64_t big[7 * 1024];  // 56 KiB
  big[threadIdx.x] = threadIdx.x;
  out[threadIdx.x] = static_cast<int64_t>(big[threadIdx.x]);
}

}  // namespace

bool launch_emu_selftest(const char* name, int64_t* out, cudaError_t* err) {
  const auto is = [name](const char* n) { return std::strcmp(name, n) == 0; };
  if (is("warp_reduce")) warp_reduce_kernel<<<1, 64>>>(out);
  else if (is("warp_scan")) warp_scan_kernel<<<1, 64>>>(out);
  else if (is("warp_xor")) warp_xor_kernel<<<1, 64>>>(out);
  else if (is("shfl_width")) shfl_width_kernel<<<1, 64>>>(out);
  else if (is("vote")) vote_kernel<<<1, 64>>>(out);
  else if (is("atomic_count")) atomic_count_kernel<<<4, 256>>>(out);
  else if (is("neighbour_racy")) neighbour_kernel<false><<<1, 64>>>(out);
  else if (is("neighbour_synced")) neighbour_kernel<true><<<1, 64>>>(out);
  else if (is("divergent_barrier")) divergent_barrier_kernel<<<1, 64>>>(out);
  else if (is("barrier_after_exit")) barrier_after_exit_kernel<<<1, 64>>>(out);
  else if (is("partial_warp_shuffle")) partial_warp_shuffle_kernel<<<1, 32>>>(out);
  else if (is("source_outside_mask")) source_outside_mask_kernel<<<1, 32>>>(out);
  else if (is("oversized_shared")) oversized_shared_kernel<<<1, 64>>>(out);
  else if (is("too_many_threads")) warp_reduce_kernel<<<1, 2048>>>(out);
  else return false;
  *err = cudaGetLastError();
  return true;
}

}  // namespace centernet_fast
