// CPU kernel of ctdet_decode, in two parallel phases:
//   1. per (image, class) plane: one scan in index order keeps the plane's best min(K, H*W)
//      composite keys in a bounded min-heap. Once the heap is full, a pixel whose value cannot
//      beat the worst kept entry is skipped before its 3x3 peak test (most pixels, on real
//      heatmaps), and blocks of 16 such pixels are skipped with one vectorisable comparison;
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

constexpr int64_t kSkipBlock = 16;

// The bounded min-heap of one plane's best keys, and the skip test it allows once full.
template <typename T>
class PlaneTopK {
 public:
  PlaneTopK(const DecodeParams& p, int64_t capacity) : p_(p), capacity_(capacity) {
    heap_.reserve(capacity);
  }

  // Scans plane c of image b (values `plane`, flat indices from c*H*W) in index order.
  void scan(const T* plane, int32_t c) {
    heap_.clear();
    can_skip_ = false;
    const int64_t hw = plane_size(p_);
    const uint32_t base = static_cast<uint32_t>(c) * static_cast<uint32_t>(hw);
    const auto load = [plane](int32_t i) { return static_cast<float>(plane[i]); };
    for (int64_t i0 = 0; i0 < hw; i0 += kSkipBlock) {
      const int64_t i1 = std::min(i0 + kSkipBlock, hw);
      if (can_skip_ && !any_above(plane, i0, i1)) continue;
      for (int64_t i = i0; i < i1; ++i) {
        const float v = load(static_cast<int32_t>(i));
        if (can_skip_ && !(v > skip_at_or_below_)) continue;
        offer(cell_key(p_, load, base + static_cast<uint32_t>(i), v), plane, base);
      }
    }
  }

  // The kept keys, unordered; exactly min(K, H*W) after a scan.
  const std::vector<uint64_t>& keys() const { return heap_; }

 private:
  bool any_above(const T* plane, int64_t i0, int64_t i1) const {
    bool any = false;
    for (int64_t i = i0; i < i1; ++i) any |= static_cast<float>(plane[i]) > skip_at_or_below_;
    return any;
  }

  void offer(uint64_t key, const T* plane, uint32_t base) {
    if (static_cast<int64_t>(heap_.size()) < capacity_) {
      heap_.push_back(key);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<uint64_t>());
    } else if (key > heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<uint64_t>());
      heap_.back() = key;
      std::push_heap(heap_.begin(), heap_.end(), std::greater<uint64_t>());
    } else {
      return;
    }
    if (static_cast<int64_t>(heap_.size()) == capacity_) update_skip(plane, base);
  }

  // Later pixels lose ties (higher index), so a pixel can only enter a full heap with a score
  // strictly above the worst kept score. Its score is its value (or sigmoid(value), monotone
  // non-decreasing) at a peak and 0 elsewhere; with the worst score w >= 0, a value at or below
  // the value that produced w cannot beat it, peak or not. A NaN is never a peak and compares
  // false, so it is skipped too. With w < 0 (negative peaks) a non-peak's 0 beats it: no skip.
  void update_skip(const T* plane, uint32_t base) {
    const float worst = key_score(heap_.front());
    can_skip_ = worst >= 0.f;
    if (worst > 0.f) {
      skip_at_or_below_ = p_.logits ? static_cast<float>(plane[key_index(heap_.front()) - base])
                                    : worst;
    } else {
      // w == 0: any peak with a positive score beats it. Every value <= 0 has a score <= 0 as a
      // probability; as a logit, only -inf is known to give sigmoid 0.
      skip_at_or_below_ = p_.logits ? -std::numeric_limits<float>::infinity() : 0.f;
    }
  }

  const DecodeParams& p_;
  const int64_t capacity_;
  std::vector<uint64_t> heap_;  // min-heap: front() is the worst kept key
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
