// CPU kernel of ctdet_decode, in two parallel phases:
//   1. per (image, class) plane: one scan in index order keeps the plane's best min(K, H*W)
//      composite keys (PlaneTopK). Once K are kept, only a peak whose value beats the worst kept
//      entry can enter, so each row is handled in blocks of 16 pixels: a block
//      with no value above the skip threshold is passed over with one comparison per pixel, and
//      for the others the 3x3 peak test of all 16 pixels is computed without branches (both
//      loops vectorise); only the surviving peaks are offered;
//   2. per image: a partial sort of the planes' candidates picks the top min(K, C*H*W), and the
//      rows are written (empty rows past C*H*W).
// The best K of an image are among the best K of its planes, so phase 2 sees all of them.
#include "cpu/decode_kernel.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

namespace centernet_fast {
namespace {

constexpr int32_t kBlock = 16;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Rows y-1, y, y+1 of columns x0-1 .. x0+kBlock as float, -inf outside the map (max_pool2d's
// padding) and past the n pixels of the block.
template <typename T>
void load_block_window(const T* plane, int32_t height, int32_t width, int32_t y, int32_t x0,
                       int32_t n, float (&win)[3][kBlock + 2]) {
  for (int32_t r = 0; r < 3; ++r) {
    float* out = win[r];
    const int32_t yy = y - 1 + r;
    std::fill(out, out + kBlock + 2, kNegInf);
    if (yy < 0 || yy >= height) continue;
    const T* row = plane + static_cast<int64_t>(yy) * width;
    if (x0 > 0) out[0] = static_cast<float>(row[x0 - 1]);
    for (int32_t j = 0; j < n; ++j) out[j + 1] = static_cast<float>(row[x0 + j]);
    if (x0 + n < width) out[n + 1] = static_cast<float>(row[x0 + n]);
  }
}

// Bit j set: pixel x0+j of the block is a peak (is_peak's test, vectorised) with value > above.
uint32_t peaks_above(const float (&win)[3][kBlock + 2], int32_t n, float above) {
  int32_t hit[kBlock];
  for (int32_t j = 0; j < kBlock; ++j) {
    const float v = win[1][j + 1];
    hit[j] = (win[0][j] <= v) & (win[0][j + 1] <= v) & (win[0][j + 2] <= v) & (win[1][j] <= v) &
             (win[1][j + 2] <= v) & (win[2][j] <= v) & (win[2][j + 1] <= v) &
             (win[2][j + 2] <= v) & (v > above);  // v > above is false for a NaN v
  }
  uint32_t mask = 0;
  for (int32_t j = 0; j < kBlock; ++j) mask |= static_cast<uint32_t>(hit[j]) << j;
  return n < kBlock ? mask & ((1u << n) - 1u) : mask;
}

template <typename T>
bool any_above(const T* values, int32_t n, float above) {
  bool any = false;
  if (n == kBlock) {  // a fixed trip count, so that the loop vectorises
    for (int32_t j = 0; j < kBlock; ++j) any |= static_cast<float>(values[j]) > above;
  } else {
    for (int32_t j = 0; j < n; ++j) any |= static_cast<float>(values[j]) > above;
  }
  return any;
}

// One plane's best `capacity` keys. Keys are appended to a buffer of twice that size; a full
// buffer is cut back to its best `capacity` (nth_element), whose worst key then bounds what can
// still enter: amortised O(1) per offered key, where a heap would pay O(log K).
template <typename T>
class PlaneTopK {
 public:
  PlaneTopK(const DecodeParams& p, int64_t capacity) : p_(p), capacity_(capacity) {
    keys_.reserve(2 * capacity);
  }

  // Scans plane c (values `plane`, flat indices from c*H*W) in index order.
  void scan(const T* plane, int32_t c) {
    keys_.clear();
    worst_ = 0;
    can_skip_ = false;
    const uint32_t base = static_cast<uint32_t>(c) * static_cast<uint32_t>(plane_size(p_));
    const auto load = [plane](int32_t i) { return static_cast<float>(plane[i]); };
    float win[3][kBlock + 2];
    for (int32_t y = 0; y < p_.height; ++y) {
      for (int32_t x0 = 0; x0 < p_.width; x0 += kBlock) {
        const int32_t n = std::min(kBlock, p_.width - x0);
        const int32_t first = y * p_.width + x0;
        if (!can_skip_) {  // no bound yet: every pixel is offered, peak or not
          for (int32_t i = first; i < first + n; ++i) {
            offer(cell_key(p_, load, base + static_cast<uint32_t>(i), load(i)), plane, base);
          }
          continue;
        }
        if (!any_above(plane + first, n, skip_at_or_below_)) continue;
        load_block_window(plane, p_.height, p_.width, y, x0, n, win);
        for (uint32_t mask = peaks_above(win, n, skip_at_or_below_); mask != 0; mask &= mask - 1) {
          const int32_t j = __builtin_ctz(mask);
          const float v = win[1][j + 1];
          const float score = p_.logits ? sigmoid_score(v) : v;
          offer(make_key(score, base + static_cast<uint32_t>(first + j)), plane, base);
        }
      }
    }
    if (static_cast<int64_t>(keys_.size()) > capacity_) cut(plane, base);
  }

  // The kept keys, unordered; exactly min(K, H*W) after a scan.
  const std::vector<uint64_t>& keys() const { return keys_; }

 private:
  void offer(uint64_t key, const T* plane, uint32_t base) {
    if (key <= worst_) return;  // cannot enter the best `capacity` any more
    keys_.push_back(key);
    if (static_cast<int64_t>(keys_.size()) == 2 * capacity_) cut(plane, base);
  }

  // Keeps the best `capacity` keys and derives the skip threshold from the worst of them.
  void cut(const T* plane, uint32_t base) {
    std::nth_element(keys_.begin(), keys_.begin() + (capacity_ - 1), keys_.end(),
                     std::greater<uint64_t>());
    keys_.resize(capacity_);
    worst_ = keys_.back();
    update_skip(plane, base);
  }

  // Later pixels lose ties (higher index), so a pixel can only enter with a score strictly
  // above the worst kept score w. Its score is its value (or sigmoid(value), monotone
  // non-decreasing) at a peak and 0 elsewhere; with w >= 0, a value at or below the value that
  // produced w cannot beat it, peak or not, and neither can a non-peak. A NaN is never a peak and
  // compares false, so it is skipped too. With w < 0 (negative peaks) a non-peak's 0 beats it:
  // no skipping.
  void update_skip(const T* plane, uint32_t base) {
    const float worst = key_score(worst_);
    can_skip_ = worst >= 0.f;
    if (worst > 0.f) {
      skip_at_or_below_ = p_.logits ? static_cast<float>(plane[key_index(worst_) - base]) : worst;
    } else {
      // w == 0: any peak with a positive score beats it. Every value <= 0 has a score <= 0 as a
      // probability; as a logit, only -inf is known to give sigmoid 0.
      skip_at_or_below_ = p_.logits ? kNegInf : 0.f;
    }
  }

  const DecodeParams& p_;
  const int64_t capacity_;
  std::vector<uint64_t> keys_;
  uint64_t worst_ = 0;  // keys <= worst_ cannot enter (0 until the first cut)
  bool can_skip_ = false;
  float skip_at_or_below_ = 0.f;
};

template <typename T>
void decode(const DecodeParams& p) {
  const int64_t hw = plane_size(p), cells = num_cells(p);
  const int64_t per_plane = std::min<int64_t>(p.k, hw);
  const int64_t planes = p.batch * p.classes;
  std::vector<uint64_t> candidates(static_cast<size_t>(planes * per_plane));
  const T* heat = static_cast<const T*>(p.heat);

  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    PlaneTopK<T> top(p, per_plane);
    for (int64_t bc = begin; bc < end; ++bc) {
      top.scan(heat + bc * hw, static_cast<int32_t>(bc % p.classes));
      std::copy(top.keys().begin(), top.keys().end(), candidates.begin() + bc * per_plane);
    }
  });

  const int64_t per_image = p.classes * per_plane;  // >= min(K, C*H*W)
  const int64_t selected = std::min<int64_t>(p.k, cells);
  at::parallel_for(0, p.batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const auto first = candidates.begin() + b * per_image;
      std::partial_sort(first, first + selected, first + per_image, std::greater<uint64_t>());
      for (int64_t r = 0; r < p.k; ++r) write_detection(p, b, r, r < selected ? first[r] : 0);
    }
  });
}

}  // namespace

void ctdet_decode_cpu_kernel(const DecodeParams& p) {
  switch (p.heat_type) {
    case HeatType::kFloat32: return decode<float>(p);
    case HeatType::kFloat16: return decode<c10::Half>(p);
    case HeatType::kBFloat16: return decode<c10::BFloat16>(p);
  }
}

}  // namespace centernet_fast
