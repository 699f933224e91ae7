// Raw-pointer description of one ctdet_decode call and the per-pixel / per-row math shared by the
// CPU and CUDA kernels (which therefore need no PyTorch headers and compute identical bits).
//
// Ranking uses a unique 64-bit composite key per map cell:
//     key = orderable(score) << 32 | (0xFFFFFFFF - flat_index),  flat_index = c*H*W + y*W + x
// so that "larger key" means "higher score, then lower flat index": one unsigned comparison
// implements the tie rule. flat_index < 2^31 (checked), so the low word is >= 2^31 and every
// real key is nonzero: key 0 marks an empty slot or a row past C*H*W.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "common/dtype.h"
#include "common/exact_math.h"
#include "common/float_bits.h"
#include "common/host_device.h"

namespace centernet_fast {

struct DecodeParams {
  // inputs (contiguous)
  const void* heat;    // [batch, classes, height, width] of heat_dtype
  Dtype heat_dtype;    // float32, float16 or bfloat16
  const float* wh;     // [batch, wh_channels, height, width]; wh_channels = 2 or 2*classes
  const float* reg;    // [batch, 2, height, width], or nullptr: centres at +0.5
  // output: every element is written
  float* out;          // [batch, k, 6] rows (x1, y1, x2, y2, score, class)
  int64_t batch;
  int32_t classes, height, width;  // classes * height * width < 2^31 (checked)
  int64_t k;                       // rows per image, >= 1
  bool cat_spec_wh;    // w, h at wh channels 2c, 2c+1 instead of 0, 1
  bool logits;         // heat holds logits: score = sigmoid(heat) at peaks
  bool has_threshold;  // rows with score < threshold get class -1
  float threshold;     // the threshold rounded to float32, as torch compares float32 scores
};

CNF_HOST_DEVICE int32_t plane_size(const DecodeParams& p) { return p.height * p.width; }
CNF_HOST_DEVICE int32_t num_cells(const DecodeParams& p) { return p.classes * p.height * p.width; }

// The float's bits mapped so that unsigned order equals numeric order (-0.0 is normalised to 0.0
// first, so equal scores give equal words).
CNF_HOST_DEVICE uint32_t orderable(float score) {
  const uint32_t u = float_bits(score == 0.f ? 0.f : score);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

CNF_HOST_DEVICE float from_orderable(uint32_t o) {
  return bits_float((o & 0x80000000u) ? (o & 0x7FFFFFFFu) : ~o);
}

CNF_HOST_DEVICE uint64_t make_key(float score, uint32_t flat_index) {
  return (static_cast<uint64_t>(orderable(score)) << 32) | (0xFFFFFFFFu - flat_index);
}

CNF_HOST_DEVICE float key_score(uint64_t key) {
  return from_orderable(static_cast<uint32_t>(key >> 32));
}

CNF_HOST_DEVICE uint32_t key_index(uint64_t key) {
  return 0xFFFFFFFFu - static_cast<uint32_t>(key & 0xFFFFFFFFu);
}

// float32(1 / (1 + exp(-x))) evaluated in float64: the same formula as the reference's
// torch.sigmoid(x.double()).float(), applied to peak candidates only.
CNF_HOST_DEVICE float sigmoid_score(float x) {
  return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
}

// True when v (the value at (y, x)) equals the maximum of its 3x3 neighbourhood, out-of-map
// neighbours ignored: max_pool2d(kernel 3, stride 1, padding 1) == heat. A NaN anywhere in the
// window (v included) means no peak, as max_pool2d propagates NaN and NaN != NaN. load(i) returns
// the float value of plane element i = y*W + x.
template <class Load>
CNF_HOST_DEVICE bool is_peak(const Load& load, int32_t y, int32_t x, int32_t height,
                             int32_t width, float v) {
  // No early exit: the few loads are cheaper than mispredicted branches (CPU) or divergence (GPU).
  bool peak = true;
  if (y > 0 && y + 1 < height && x > 0 && x + 1 < width) {  // interior: a fixed, unrolled window
    const int32_t centre = y * width + x;
    for (int32_t dy = -1; dy <= 1; ++dy) {
      for (int32_t dx = -1; dx <= 1; ++dx) {
        peak &= load(centre + dy * width + dx) <= v;  // false for a larger value or a NaN
      }
    }
    return peak;
  }
  const int32_t y0 = y > 0 ? y - 1 : 0, y1 = y + 1 < height ? y + 1 : height - 1;
  const int32_t x0 = x > 0 ? x - 1 : 0, x1 = x + 1 < width ? x + 1 : width - 1;
  for (int32_t ny = y0; ny <= y1; ++ny) {
    for (int32_t nx = x0; nx <= x1; ++nx) {
      peak &= load(ny * width + nx) <= v;
    }
  }
  return peak;
}

// The composite key of the cell at flat_index whose value is v: its score is v (or sigmoid(v))
// at a peak and 0 elsewhere.
template <class Load>
CNF_HOST_DEVICE uint64_t cell_key(const DecodeParams& p, const Load& load_plane, uint32_t flat_index,
                                  float v) {
  const int32_t pix = static_cast<int32_t>(flat_index % static_cast<uint32_t>(plane_size(p)));
  const int32_t y = pix / p.width, x = pix - y * p.width;
  float score = 0.f;
  if (is_peak(load_plane, y, x, p.height, p.width, v)) score = p.logits ? sigmoid_score(v) : v;
  return make_key(score, flat_index);
}

// Writes output row r of image b for the cell of `key`, or, for key 0, the empty row
// (zeros, class -1). Column order and arithmetic as the original CenterNet ctdet_decode:
// xs = x + reg_x (or x + 0.5), then (xs - w/2, ys - h/2, xs + w/2, ys + h/2, score, class).
CNF_HOST_DEVICE void write_detection(const DecodeParams& p, int64_t b, int64_t r, uint64_t key) {
  float* row = p.out + (b * p.k + r) * 6;
  if (key == 0) {
    for (int i = 0; i < 5; ++i) row[i] = 0.f;
    row[5] = -1.f;
    return;
  }
  const float score = key_score(key);
  const int64_t hw = plane_size(p);
  const uint32_t flat = key_index(key);
  const int32_t c = static_cast<int32_t>(flat / hw), pix = static_cast<int32_t>(flat % hw);
  const int32_t y = pix / p.width, x = pix - y * p.width;
  float xs = static_cast<float>(x), ys = static_cast<float>(y);
  if (p.reg != nullptr) {
    xs = fadd(xs, p.reg[(b * 2) * hw + pix]);
    ys = fadd(ys, p.reg[(b * 2 + 1) * hw + pix]);
  } else {
    xs = fadd(xs, 0.5f);
    ys = fadd(ys, 0.5f);
  }
  const int64_t wh_channels = p.cat_spec_wh ? 2 * static_cast<int64_t>(p.classes) : 2;
  const int64_t wc = p.cat_spec_wh ? 2 * static_cast<int64_t>(c) : 0;
  const float half_w = fhalf(p.wh[(b * wh_channels + wc) * hw + pix]);
  const float half_h = fhalf(p.wh[(b * wh_channels + wc + 1) * hw + pix]);
  row[0] = fsub(xs, half_w);
  row[1] = fsub(ys, half_h);
  row[2] = fadd(xs, half_w);
  row[3] = fadd(ys, half_h);
  row[4] = score;
  row[5] = (p.has_threshold && score < p.threshold) ? -1.f : static_cast<float>(c);
}

}  // namespace centernet_fast
