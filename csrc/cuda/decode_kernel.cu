// CUDA kernels of ctdet_decode, designed for batch-1 latency: two launches, no full-map pass
// besides the one read of heat, nothing sorted but the final K.
//   tile kernel, grid (tiles, batch): each block scores a tile of kTile consecutive cells of the
//     flat C*H*W map (3x3 peak test, sigmoid at peaks, composite key) into shared memory and
//     selects the tile's best min(K, tile) keys by block radix select, written unordered to the
//     candidates buffer [batch, tiles, K] (key 0 in unused slots);
//   merge kernel, grid batch: the same radix select over the image's candidates picks the best
//     min(K, C*H*W), a bitonic sort orders them, and the rows are written.
// The best K of an image are among the best K of its tiles. For K > kDecodeMaxSortedK the
// launcher instead writes every cell's key, sorts them with torch, and writes rows from those.
// The ranking is exact (unique keys): results do not depend on scheduling.
#include "cuda/decode_kernel.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "cuda/block_select.cuh"

namespace centernet_fast {
namespace {

constexpr int kTileThreads = 256;
constexpr int kTileItems = 16;
constexpr int kTile = kTileThreads * kTileItems;
constexpr int kMergeThreads = 1024;
constexpr int kGridStrideThreads = 256;
constexpr uint64_t kSignBit = uint64_t{1} << 63;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

// Plane element i as float.
template <typename T>
struct PlaneLoad {
  const T* plane;
  __device__ __forceinline__ float operator()(int32_t i) const { return to_float(plane[i]); }
};

// The composite key of cell `flat` (< C*H*W) of image b.
template <typename T>
__device__ __forceinline__ uint64_t image_cell_key(const DecodeParams& p, int64_t b,
                                                   uint32_t flat) {
  const int64_t hw = plane_size(p);
  const PlaneLoad<T> load{static_cast<const T*>(p.heat) + (b * p.classes + flat / hw) * hw};
  return cell_key(p, load, flat, load(static_cast<int32_t>(flat % hw)));
}

template <typename T>
__global__ void __launch_bounds__(kTileThreads)
    decode_tile_kernel(DecodeParams p, uint64_t* candidates, int64_t tiles) {
  __shared__ uint64_t keys[kTile];
  __shared__ RadixSelectShared select;
  __shared__ unsigned int taken;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kTile;
  const int tile_cells = static_cast<int>(min(static_cast<int64_t>(kTile), num_cells(p) - first));
  const unsigned int want = static_cast<unsigned int>(min(p.k, static_cast<int64_t>(tile_cells)));
  for (int64_t b = blockIdx.y; b < p.batch; b += gridDim.y) {  // block-uniform loop
    if (threadIdx.x == 0) taken = 0;
    for (int j = 0; j < kTileItems; ++j) {
      const int local = j * kTileThreads + threadIdx.x;  // consecutive threads, consecutive cells
      keys[local] = local < tile_cells
                        ? image_cell_key<T>(p, b, static_cast<uint32_t>(first + local))
                        : 0;
    }
    __syncthreads();  // keys and taken are visible to the block
    const auto load = [&](int64_t i) { return keys[i]; };
    const uint64_t threshold = want == static_cast<unsigned int>(tile_cells)
                                   ? 1  // every cell of the tile is kept
                                   : block_select_threshold(load, kTile, want, select);
    uint64_t* out = candidates + (b * tiles + blockIdx.x) * p.k;
    for (int j = 0; j < kTileItems; ++j) {
      const uint64_t key = keys[j * kTileThreads + threadIdx.x];
      if (key != 0 && key >= threshold) out[atomicAdd(&taken, 1u)] = key;  // exactly `want`
    }
    for (int64_t i = want + threadIdx.x; i < p.k; i += kTileThreads) out[i] = 0;
    __syncthreads();  // the next image rewrites keys and taken
  }
}

__global__ void __launch_bounds__(kMergeThreads)
    decode_merge_kernel(DecodeParams p, const uint64_t* candidates, int64_t per_image) {
  __shared__ uint64_t best[kDecodeMaxSortedK];
  __shared__ RadixSelectShared select;
  __shared__ unsigned int taken;
  const int64_t b = blockIdx.x;
  const uint64_t* mine = candidates + b * per_image;
  const unsigned int want = static_cast<unsigned int>(min(p.k, static_cast<int64_t>(num_cells(p))));
  if (threadIdx.x == 0) taken = 0;  // visible after the select's barriers
  const auto load = [mine](int64_t i) { return mine[i]; };
  const uint64_t threshold = block_select_threshold(load, per_image, want, select);
  for (int64_t i = threadIdx.x; i < per_image; i += kMergeThreads) {
    const uint64_t key = mine[i];
    if (key != 0 && key >= threshold) best[atomicAdd(&taken, 1u)] = key;  // exactly `want`
  }
  unsigned int padded = 1;
  while (padded < want) padded <<= 1;  // <= kDecodeMaxSortedK, a power of two
  for (unsigned int i = want + threadIdx.x; i < padded; i += kMergeThreads) best[i] = 0;
  __syncthreads();
  bitonic_sort_descending(best, padded);
  for (int64_t r = threadIdx.x; r < p.k; r += kMergeThreads) {
    write_detection(p, b, r, r < want ? best[r] : 0);
  }
}

template <typename T>
__global__ void decode_key_map_kernel(DecodeParams p, int64_t* keys) {
  const int64_t cells = num_cells(p), total = p.batch * cells;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const uint64_t key = image_cell_key<T>(p, i / cells, static_cast<uint32_t>(i % cells));
    keys[i] = static_cast<int64_t>(key ^ kSignBit);
  }
}

__global__ void decode_write_sorted_kernel(DecodeParams p, const int64_t* sorted) {
  const int64_t cells = num_cells(p), total = p.batch * p.k;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int64_t b = i / p.k, r = i % p.k;
    const uint64_t key = r < cells ? static_cast<uint64_t>(sorted[b * cells + r]) ^ kSignBit : 0;
    write_detection(p, b, r, key);
  }
}

unsigned int grid_stride_blocks(int64_t n) {
  return static_cast<unsigned int>(
      std::min<int64_t>((n + kGridStrideThreads - 1) / kGridStrideThreads, int64_t{1} << 20));
}

}  // namespace

int64_t decode_tile_count(const DecodeParams& p) { return (num_cells(p) + kTile - 1) / kTile; }

cudaError_t launch_ctdet_decode(const DecodeParams& p, uint64_t* candidates, cudaStream_t stream) {
  if (p.batch == 0) return cudaSuccess;
  const int64_t tiles = decode_tile_count(p);  // <= 2^31 / kTile
  const dim3 grid(static_cast<unsigned int>(tiles),
                  static_cast<unsigned int>(std::min<int64_t>(p.batch, 65535)));
  dispatch_dtype<__half, __nv_bfloat16, false>(p.heat_dtype, [&](auto t) {
    decode_tile_kernel<decltype(t)><<<grid, kTileThreads, 0, stream>>>(p, candidates, tiles);
  });
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  decode_merge_kernel<<<static_cast<unsigned int>(p.batch), kMergeThreads, 0, stream>>>(
      p, candidates, tiles * p.k);
  return cudaGetLastError();
}

cudaError_t launch_decode_key_map(const DecodeParams& p, int64_t* keys, cudaStream_t stream) {
  const int64_t total = p.batch * num_cells(p);
  if (total == 0) return cudaSuccess;
  const unsigned int blocks = grid_stride_blocks(total);
  dispatch_dtype<__half, __nv_bfloat16, false>(p.heat_dtype, [&](auto t) {
    decode_key_map_kernel<decltype(t)><<<blocks, kGridStrideThreads, 0, stream>>>(p, keys);
  });
  return cudaGetLastError();
}

cudaError_t launch_decode_write_sorted(const DecodeParams& p, const int64_t* sorted,
                                       cudaStream_t stream) {
  const int64_t total = p.batch * p.k;
  if (total == 0) return cudaSuccess;
  decode_write_sorted_kernel<<<grid_stride_blocks(total), kGridStrideThreads, 0, stream>>>(p,
                                                                                           sorted);
  return cudaGetLastError();
}

}  // namespace centernet_fast
