// CPU kernel of ctdet_decode, in two parallel phases:
//   1. per (image, class) plane: one scan in index order keeps the plane's best min(K, H*W)
//      composite keys (PlaneTopK). Once K are kept, only a peak whose value beats the worst kept
//      entry can enter, so each row is handled in blocks of 16 pixels: a block with no value
//      above the skip threshold is passed over with one vectorised comparison per pixel, and only
//      its pixels above the threshold get the 3x3 peak test;
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

// Bit j set: values[j] > above (false for a NaN), j < n <= kBlock. Blocks without any such value
// are the common case once the threshold has risen, so that test comes first, as a count that
// vectorises (the simd pragma keeps GCC from unrolling the loop into scalar code first).
template <typename T>
uint32_t mask_above(const T* values, int32_t n, float above) {
  if (n == kBlock) {
    int32_t count = 0;
#pragma omp simd reduction(+ : count)
    for (int32_t j = 0; j < kBlock; ++j) count += static_cast<float>(values[j]) > above ? 1 : 0;
    if (count == 0) return 0;
  }
  uint32_t mask = 0;
  for (int32_t j = 0; j < n; ++j) {
    mask |= static_cast<uint32_t>(static_cast<float>(values[j]) > above) << j;
  }
  return mask;
}

// One plane's best `capacity` keys. Keys are appended to a buffer of twice that size; a full
// buffer is cut back to its best `capacity` (nth_element), whose worst key then bounds what can
// still enter: amortised O(1) per offered key, where a heap would pay O(log K).
template <typename T>
class PlaneTopK {
 public:
  PlaneTopK(const DecodeParams& p, int64_t capacity)
      : p_(p), capacity_(capacity), keys_(static_cast<size_t>(2 * capacity)) {}

  // Scans plane c (values `plane`, flat indices from c*H*W) in index order.
  void scan(const T* plane, int32_t c) {
    size_ = 0;
    worst_ = 0;
    can_skip_ = false;
    const uint32_t base = static_cast<uint32_t>(c) * static_cast<uint32_t>(plane_size(p_));
    const auto load = [plane](int32_t i) { return static_cast<float>(plane[i]); };
    for (int32_t y = 0; y < p_.height; ++y) {
      for (int32_t x0 = 0; x0 < p_.width; x0 += kBlock) {
        const int32_t n = std::min(kBlock, p_.width - x0);
        const int32_t first = y * p_.width + x0;
        if (!can_skip_) {  // no bound yet: every pixel is offered, peak or not
          for (int32_t i = first; i < first + n; ++i) {
            offer(cell_key(p_, load, base + static_cast<uint32_t>(i), load(i)), true, plane, base);
          }
          continue;
        }
        for (uint32_t mask = mask_above(plane + first, n, skip_at_or_below_); mask != 0;
             mask &= mask - 1) {
          const int32_t i = first + __builtin_ctz(mask);
          const float v = load(i);
          const bool peak = is_peak(load, y, i - y * p_.width, p_.height, p_.width, v);
          // A non-peak scores 0 and cannot enter here. Probabilities are offered without a
          // branch on `peak` (it is unpredictable); logits only at peaks (the sigmoid is dear).
          if (p_.logits && !peak) continue;
          const float score = p_.logits ? sigmoid_score(v) : v;
          offer(make_key(score, base + static_cast<uint32_t>(i)), peak, plane, base);
        }
      }
    }
    if (size_ > capacity_) cut(plane, base);
  }

  // The kept keys, unordered: exactly min(K, H*W) of them after a scan.
  const uint64_t* keys() const { return keys_.data(); }
  int64_t size() const { return size_; }

 private:
  // Appends key if `valid` and it can still enter. Written without branches: the slot is always
  // written and only counted when it is taken.
  void offer(uint64_t key, bool valid, const T* plane, uint32_t base) {
    keys_[size_] = key;
    size_ += static_cast<int64_t>(valid & (key > worst_));
    if (size_ == 2 * capacity_) cut(plane, base);
  }

  // Keeps the best `capacity` keys and derives the skip threshold from the worst of them.
  void cut(const T* plane, uint32_t base) {
    std::nth_element(keys_.begin(), keys_.begin() + (capacity_ - 1), keys_.begin() + size_,
                     std::greater<uint64_t>());
    size_ = capacity_;
    worst_ = keys_[capacity_ - 1];
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
  std::vector<uint64_t> keys_;  // 2 * capacity slots, the first size_ in use
  int64_t size_ = 0;
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
      std::copy(top.keys(), top.keys() + top.size(), candidates.begin() + bc * per_plane);
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
