// Block-wide building blocks of the ctdet_decode CUDA kernels, on 64-bit composite keys (see
// common/decode_params.h; key 0 = empty): selecting the largest keys by radix select, and a
// bitonic sort in shared memory. Device code only; every function here must be called by all
// threads of the block (they synchronise), with blockDim.x a multiple of 32.
#pragma once

#include <cstdint>

namespace centernet_fast {

constexpr int kRadixBits = 8;
constexpr int kRadixBins = 1 << kRadixBits;

struct RadixSelectShared {
  unsigned int hist[kRadixBins];
  unsigned int warp_total[kRadixBins / 32];
  unsigned int digit, remaining, bin_count;  // the chosen bin of the current digit
};

__device__ __forceinline__ unsigned int warp_inclusive_sum(unsigned int v) {
  const unsigned int lane = threadIdx.x & 31u;
#pragma unroll
  for (unsigned int d = 1; d < 32; d <<= 1) {
    const unsigned int below = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v += below;
  }
  return v;
}

// hist[digit] += 1 for every lane with digit < kRadixBins (others pass kRadixBins). Lanes with the
// same digit add together, so that a skewed histogram does not serialise on one counter. Called
// by full warps. Integer atomics: the counts do not depend on the order.
__device__ __forceinline__ void histogram_add(unsigned int* hist, unsigned int digit) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
  const unsigned int peers = __match_any_sync(0xffffffffu, digit);
  const unsigned int leader = __ffs(peers) - 1;
  if (digit < kRadixBins && (threadIdx.x & 31u) == leader) atomicAdd(&hist[digit], __popc(peers));
#else
  if (digit < kRadixBins) atomicAdd(&hist[digit], 1u);
#endif
}

// Returns T such that exactly `want` of the nonzero keys load(0), ..., load(n - 1) are >= T.
// MSB-first radix select over 8-bit digits: each pass histograms the digit of the keys that
// share the digits chosen so far, and picks the bin holding the want-th largest; it stops early
// once that bin holds exactly the keys still needed. Requires the nonzero keys to be unique,
// 1 <= want <= their number, and blockDim.x >= kRadixBins. load(i) is called for i < n only.
template <class LoadKey>
__device__ uint64_t block_select_threshold(const LoadKey& load, int64_t n, unsigned int want,
                                           RadixSelectShared& s) {
  const int tid = threadIdx.x;
  uint64_t prefix = 0, mask = 0;
  unsigned int remaining = want;  // keys still needed among those matching prefix under mask
  for (int shift = 64 - kRadixBits; shift >= 0; shift -= kRadixBits) {
    for (int i = tid; i < kRadixBins; i += blockDim.x) s.hist[i] = 0;
    __syncthreads();
    for (int64_t first = 0; first < n; first += blockDim.x) {  // uniform trip count: full warps
      const int64_t i = first + tid;
      const uint64_t key = i < n ? load(i) : 0;
      const bool match = key != 0 && (key & mask) == prefix;
      histogram_add(s.hist, match ? static_cast<unsigned int>(key >> shift) & (kRadixBins - 1)
                                  : kRadixBins);
    }
    __syncthreads();
    // Thread t < kRadixBins takes bin kRadixBins-1-t: an inclusive scan then counts the matching
    // keys from the largest digit down, and the one thread whose range holds the want-th
    // largest publishes its bin.
    const unsigned int count = tid < kRadixBins ? s.hist[kRadixBins - 1 - tid] : 0;
    unsigned int inclusive = warp_inclusive_sum(count);
    if (tid < kRadixBins && (tid & 31) == 31) s.warp_total[tid >> 5] = inclusive;
    __syncthreads();
    if (tid < kRadixBins) {
      for (int w = 0; w < (tid >> 5); ++w) inclusive += s.warp_total[w];
      const unsigned int exclusive = inclusive - count;
      if (exclusive < remaining && remaining <= inclusive) {
        s.digit = kRadixBins - 1 - tid;
        s.remaining = remaining - exclusive;
        s.bin_count = count;
      }
    }
    __syncthreads();
    // s.* is rewritten only after two more barriers of the next pass, so these reads are safe.
    prefix |= static_cast<uint64_t>(s.digit) << shift;
    mask |= static_cast<uint64_t>(kRadixBins - 1) << shift;
    remaining = s.remaining;
    if (s.bin_count == remaining) break;  // the whole bin is taken: prefix is the threshold
  }
  return prefix;
}

// Sorts keys[0, n) in shared memory into descending order; n is a power of two.
__device__ __forceinline__ void bitonic_sort_descending(uint64_t* keys, unsigned int n) {
  for (unsigned int size = 2; size <= n; size <<= 1) {
    for (unsigned int stride = size >> 1; stride > 0; stride >>= 1) {
      for (unsigned int pair = threadIdx.x; pair < n / 2; pair += blockDim.x) {
        const unsigned int lo = 2 * pair - (pair & (stride - 1));  // lo has the stride bit clear
        const unsigned int hi = lo + stride;
        const bool descending = (lo & size) == 0;  // the last merge (size == n) is descending
        const uint64_t a = keys[lo], b = keys[hi];
        if (descending ? a < b : a > b) {
          keys[lo] = b;
          keys[hi] = a;
        }
      }
      __syncthreads();
    }
  }
}

}  // namespace centernet_fast
