// Variants of the float focal-loss tile loop per vector instruction set. The loop body is one
// always-inlined template, so each variant is the same code vectorised for a different width; the
// CPU's support is checked once. Only these functions carry target attributes: everything they
// call is inlined into them, so no wider instructions leak into code shared with other callers.
#include "cpu/focal_loss_tiles.h"

#include "cpu/fast_math.h"

namespace centernet_fast {
namespace {

template <bool kClamp, bool kGrad>
CNF_HOST_DEVICE void tile_loop(const float* __restrict x, const float* __restrict t, int64_t len,
                               const FocalLossConfig& cfg, float* __restrict out) {
  for (int64_t i = 0; i < len; ++i) {
    const FocalTerm<float> term = focal_term<cpu::FastFloatMath, kClamp, true>(x[i], t[i], cfg);
    out[i] = kGrad ? term.grad : term.loss;
  }
}

using TileFn = void (*)(const float*, const float*, int64_t, const FocalLossConfig&, float*);

// One variant: the four loops [clamp][grad], each its own function (GCC vectorises a loop more
// reliably alone than next to its siblings), and the name of its instruction set.
struct TileVariant {
  TileFn loop[2][2];
  const char* isa;
};

#define CNF_TILE_VARIANT(loop_template, isa_name)                        \
  TileVariant {                                                          \
    {{loop_template<false, false>, loop_template<false, true>},          \
     {loop_template<true, false>, loop_template<true, true>}},           \
        isa_name                                                         \
  }

template <bool kClamp, bool kGrad>
void loop_baseline(const float* x, const float* t, int64_t len, const FocalLossConfig& cfg,
                   float* out) {
  tile_loop<kClamp, kGrad>(x, t, len, cfg, out);
}

#if defined(__GNUC__) && defined(__x86_64__)
#define CNF_HAVE_X86_VARIANTS 1

template <bool kClamp, bool kGrad>
__attribute__((target("avx2"))) void loop_avx2(const float* x, const float* t, int64_t len,
                                               const FocalLossConfig& cfg, float* out) {
  tile_loop<kClamp, kGrad>(x, t, len, cfg, out);
}

template <bool kClamp, bool kGrad>
__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,prefer-vector-width=512")))
void loop_avx512(const float* x, const float* t, int64_t len, const FocalLossConfig& cfg,
                 float* out) {
  tile_loop<kClamp, kGrad>(x, t, len, cfg, out);
}
#endif

TileVariant select_variant() {
#ifdef CNF_HAVE_X86_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) {
    return CNF_TILE_VARIANT(loop_avx512, "avx512");
  }
  if (__builtin_cpu_supports("avx2")) return CNF_TILE_VARIANT(loop_avx2, "avx2");
#endif
  return CNF_TILE_VARIANT(loop_baseline, "baseline");
}

const TileVariant& variant() {
  static const TileVariant chosen = select_variant();
  return chosen;
}

}  // namespace

void focal_loss_float_tile(const float* x, const float* t, int64_t len, const FocalLossConfig& cfg,
                           bool grad, float* out) {
  variant().loop[cfg.clamp][grad](x, t, len, cfg, out);
}

const char* focal_loss_tile_isa() { return variant().isa; }

}  // namespace centernet_fast
