// CUDA executed on the CPU: the device-side language and runtime API that the project's kernels
// use, for building the real csrc/cuda sources with the host compiler (see README.md in this
// folder). Force-included in every kernel translation unit, as nvcc includes cuda_runtime.h.
//
// Execution model (cuda_emu_runtime.cpp): every CUDA thread of a block is a fiber with its own
// stack; the block's fibers run on one OS thread, each until it reaches __syncthreads, a warp
// collective or its end. A barrier releases when every thread of the block waits at the same call
// site; a *_sync collective completes when every lane of its mask waits at the same site with
// the same mask, and is then evaluated over the 32 lanes of the warp. Everything else (exited
// lanes in a mask, divergent barriers, deadlocks, launch limits, over 48 KiB of shared memory) is
// a launch error that cudaGetLastError() returns. Blocks run one after another; the order of the
// blocks and of the threads between synchronisation points comes from CNF_EMU_ORDER
// (forward | reverse | random) and CNF_EMU_SEED, and shared memory starts filled with the byte
// CNF_EMU_POISON, so that results which depend on either expose a race or an uninitialised read.
#pragma once

#include <math.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_emu_runtime_api.h"

// ---- Language ---------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
// `__shared__ T name[N];` is rewritten by cu2cpp.py into CNF_SHARED(name, T[N]): one object per
// block and declaration site (a static tag per function, so per template instantiation). Any
// other use of __shared__ fails to compile.
#define __shared__ static_assert(false, "__shared__ outside a declaration cu2cpp.py rewrites");
#define CNF_SHARED(name, ...)                                                                   \
  using cnf_shared_type_##name = __VA_ARGS__;                                                   \
  static char cnf_shared_tag_##name;                                                            \
  auto& name = *static_cast<cnf_shared_type_##name*>(::cnf_emu::block_shared(                   \
      &cnf_shared_tag_##name, sizeof(cnf_shared_type_##name), alignof(cnf_shared_type_##name), \
      #name))

namespace cnf_emu {

// The calling fiber's CUDA thread: its indices and the block it belongs to.
struct Coordinates {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
};
const Coordinates& coordinates();

// The shared object of declaration `tag` in the running block (allocated, filled with the poison
// byte, on first use by any of its threads).
void* block_shared(const void* tag, std::size_t size, std::size_t align, const char* name);

// Warp collectives: the calling lane posts `value` (at most 8 bytes) and waits until the
// collective completes; the result is written to `result`.
enum class Collective { kShflIdx, kShflUp, kShflDown, kShflXor, kBallot, kAny, kAll, kMatchAny,
                        kSyncWarp };
void warp_collective(Collective op, unsigned int mask, const void* value, std::size_t size,
                     int arg, int width, void* result, const std::source_location& site);
void sync_threads(const std::source_location& site);

// Runs body(context) as the kernel of a grid<<<grid, block, shared_bytes>>> launch; a launch
// error is recorded for cudaGetLastError().
void run_launch(dim3 grid, dim3 block, std::size_t shared_bytes, void (*body)(void*),
                void* context);

// K<<<grid, block, shared, stream>>>(args...) as cu2cpp.py rewrites it: the arguments are
// evaluated once, and every thread calls the kernel with its own copies of them, as CUDA passes
// kernel parameters by value.
template <class Kernel, class... Args>
void launch(dim3 grid, dim3 block, std::size_t shared_bytes, cudaStream_t /*stream*/,
            Kernel kernel, Args&&... args) {
  auto params = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...);
  auto call = [&] { std::apply(kernel, params); };
  run_launch(grid, block, shared_bytes,
             [](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
}
template <class T>
T collective(Collective op, unsigned int mask, T value, int arg, int width,
             const std::source_location& site) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp collectives take values of at most 8 bytes");
  T result{};
  warp_collective(op, mask, &value, sizeof(T), arg, width, &result, site);
  return result;
}

}  // namespace cnf_emu

#define threadIdx (::cnf_emu::coordinates().thread_idx)
#define blockIdx (::cnf_emu::coordinates().block_idx)
#define blockDim (::cnf_emu::coordinates().block_dim)
#define gridDim (::cnf_emu::coordinates().grid_dim)
constexpr int warpSize = 32;

// ---- Synchronisation and warp intrinsics -------------------------------------------------------
inline void __syncthreads(std::source_location site = std::source_location::current()) {
  ::cnf_emu::sync_threads(site);
}
inline void __syncwarp(unsigned int mask = 0xffffffffu,
                       std::source_location site = std::source_location::current()) {
  ::cnf_emu::collective(::cnf_emu::Collective::kSyncWarp, mask, 0, 0, warpSize, site);
}
template <class T>
T __shfl_sync(unsigned int mask, T v, int src_lane, int width = warpSize,
              std::source_location site = std::source_location::current()) {
  return ::cnf_emu::collective(::cnf_emu::Collective::kShflIdx, mask, v, src_lane, width, site);
}
template <class T>
T __shfl_up_sync(unsigned int mask, T v, unsigned int delta, int width = warpSize,
                 std::source_location site = std::source_location::current()) {
  return ::cnf_emu::collective(::cnf_emu::Collective::kShflUp, mask, v, static_cast<int>(delta),
                               width, site);
}
template <class T>
T __shfl_down_sync(unsigned int mask, T v, unsigned int delta, int width = warpSize,
                   std::source_location site = std::source_location::current()) {
  return ::cnf_emu::collective(::cnf_emu::Collective::kShflDown, mask, v,
                               static_cast<int>(delta), width, site);
}
template <class T>
T __shfl_xor_sync(unsigned int mask, T v, int lane_mask, int width = warpSize,
                  std::source_location site = std::source_location::current()) {
  return ::cnf_emu::collective(::cnf_emu::Collective::kShflXor, mask, v, lane_mask, width, site);
}
inline unsigned int __ballot_sync(unsigned int mask, int predicate,
                                  std::source_location site = std::source_location::current()) {
  return ::cnf_emu::collective(::cnf_emu::Collective::kBallot, mask, predicate != 0 ? 1u : 0u, 0,
                               warpSize, site);
}
inline int __any_sync(unsigned int mask, int predicate,
                      std::source_location site = std::source_location::current()) {
  return static_cast<int>(::cnf_emu::collective(::cnf_emu::Collective::kAny, mask,
                                                predicate != 0 ? 1u : 0u, 0, warpSize, site));
}
inline int __all_sync(unsigned int mask, int predicate,
                      std::source_location site = std::source_location::current()) {
  return static_cast<int>(::cnf_emu::collective(::cnf_emu::Collective::kAll, mask,
                                                predicate != 0 ? 1u : 0u, 0, warpSize, site));
}
template <class T>
unsigned int __match_any_sync(unsigned int mask, T v,
                              std::source_location site = std::source_location::current()) {
  static_assert(std::is_integral_v<T>, "__match_any_sync takes an integer value");
  const uint64_t wide = static_cast<uint64_t>(v);
  return static_cast<unsigned int>(
      ::cnf_emu::collective(::cnf_emu::Collective::kMatchAny, mask, wide, 0, warpSize, site));
}

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <class T>
T __ldg(const T* p) { return *p; }

// ---- Atomics: relaxed, as CUDA's; the value returned is the old one -------------------------
// Stores v in *a while replaces(v, current) holds; returns the value it replaced (or kept).
template <class T, class Replaces>
T cnf_emu_atomic_replace_if(T* a, T v, Replaces replaces) {
  T old = __atomic_load_n(a, __ATOMIC_RELAXED);
  while (replaces(v, old) &&
         !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
#define CNF_EMU_ATOMIC_INT(T)                                                                    \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }          \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }          \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }          \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }            \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }          \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }        \
  inline T atomicCAS(T* a, T expected, T v) {                                                    \
    __atomic_compare_exchange_n(a, &expected, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);    \
    return expected;                                                                             \
  }                                                                                              \
  inline T atomicMax(T* a, T v) {                                                                \
    return cnf_emu_atomic_replace_if(a, v, [](T n, T o) { return o < n; });                     \
  }                                                                                              \
  inline T atomicMin(T* a, T v) {                                                                \
    return cnf_emu_atomic_replace_if(a, v, [](T n, T o) { return n < o; });                     \
  }
CNF_EMU_ATOMIC_INT(int)
CNF_EMU_ATOMIC_INT(unsigned int)
CNF_EMU_ATOMIC_INT(unsigned long long)
CNF_EMU_ATOMIC_INT(long long)
#undef CNF_EMU_ATOMIC_INT

template <class F>
F cnf_emu_atomic_float_add(F* a, F v) {
  F old;
  __atomic_load(a, &old, __ATOMIC_RELAXED);
  F sum = old + v;
  while (!__atomic_compare_exchange(a, &old, &sum, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    sum = old + v;
  }
  return old;
}
inline float atomicAdd(float* a, float v) { return cnf_emu_atomic_float_add(a, v); }
inline double atomicAdd(double* a, double v) { return cnf_emu_atomic_float_add(a, v); }

// ---- Integer and bit intrinsics ----------------------------------------------------------------
inline int __popc(unsigned int v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(v)); }
inline int __clzll(long long v) {
  return v == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(v));
}
inline unsigned int __brev(unsigned int v) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}

template <class To, class From>
To cnf_emu_bit_cast(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}
inline int __float_as_int(float v) { return cnf_emu_bit_cast<int>(v); }
inline unsigned int __float_as_uint(float v) { return cnf_emu_bit_cast<unsigned int>(v); }
inline float __int_as_float(int v) { return cnf_emu_bit_cast<float>(v); }
inline float __uint_as_float(unsigned int v) { return cnf_emu_bit_cast<float>(v); }
inline long long __double_as_longlong(double v) { return cnf_emu_bit_cast<long long>(v); }
inline double __longlong_as_double(long long v) { return cnf_emu_bit_cast<double>(v); }

// ---- Correctly rounded arithmetic (never contracted: kernels build with -ffp-contract=off) -----
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

// Device-side min/max over mixed integer types, as CUDA's overloads.
template <class A, class B>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <class A, class B>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}
using std::isfinite;
using std::isinf;
using std::isnan;

