// Launchers of the ctdet_decode CUDA kernels. Plain CUDA runtime types only, so that the .cu
// file that implements them compiles without PyTorch headers.
#pragma once

#include <cuda_runtime.h>

#include "common/decode_params.h"

namespace centernet_fast {

// The two-launch path serves K up to this (its final sort lives in shared memory).
constexpr int64_t kDecodeMaxSortedK = 2048;

// Tiles per image of the two-launch path: the scratch buffer holds [batch, tiles, K] keys.
int64_t decode_tile_count(const DecodeParams& p);

// Writes every row of p.out in two launches on `stream` (p.k <= kDecodeMaxSortedK): each tile of
// an image's C*H*W cells selects its best min(K, tile) keys into `candidates`, then one block per
// image selects, sorts and writes the best min(K, C*H*W).
cudaError_t launch_ctdet_decode(const DecodeParams& p, uint64_t* candidates, cudaStream_t stream);

// The path for larger K: the composite key of every cell, stored as keys[b * C*H*W + i] =
// key ^ 2^63 so that a signed descending sort orders them like the unsigned keys...
cudaError_t launch_decode_key_map(const DecodeParams& p, int64_t* keys, cudaStream_t stream);

// ...and the rows written from those keys sorted in descending order per image.
cudaError_t launch_decode_write_sorted(const DecodeParams& p, const int64_t* sorted,
                                       cudaStream_t stream);

}  // namespace centernet_fast
