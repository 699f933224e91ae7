// CPU kernel of ctdet_decode, in two parallel phases:
//   1. the (image, class) planes are split into contiguous runs, one per thread; a thread scans
//      its planes in class order, each plane once in index order, keeping the keys that can still
//      be among the image's best K. The bound is the worst of the K best keys seen so far, in this
//      plane or in the image's earlier planes, so after the first few planes of an image almost
//      every pixel is passed over: each row is handled in blocks of 16 pixels, a block with no
//      value above the bound's skip threshold costs one vectorised comparison per pixel, and only
//      pixels above it get the 3x3 peak test;
//   2. per image: a partial sort of the planes' kept keys picks the top min(K, C*H*W), and the
//      rows are written (empty rows past C*H*W).
// Only keys that provably cannot be among the best K are dropped, so the result does not depend
// on how the planes are split between threads.
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
// are the common case, so that test comes first, as a count that vectorises (the simd pragma
// keeps GCC from unrolling the loop into scalar code first).
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

// The best `capacity` of the keys pushed since clear(). Keys are appended to a buffer of twice
// that size and cut back with nth_element when it is full: amortised O(1) per key, where a heap
// would pay O(log K).
class BestKeys {
 public:
  explicit BestKeys(int64_t capacity)
      : capacity_(capacity), keys_(static_cast<size_t>(2 * capacity)) {}

  void clear() { size_ = 0; }

  // Appends key if `take`, without a branch (the slot is written either way). True when the
  // buffer is full: cut() must follow.
  bool push(uint64_t key, bool take) {
    keys_[size_] = key;
    size_ += static_cast<int64_t>(take);
    return size_ == 2 * capacity_;
  }

  // Keeps the best `capacity` keys. Returns the worst of them, or 0 while fewer were pushed.
  uint64_t cut() {
    if (size_ < capacity_) return 0;
    std::nth_element(keys_.begin(), keys_.begin() + (capacity_ - 1), keys_.begin() + size_,
                     std::greater<uint64_t>());
    size_ = capacity_;
    return keys_[capacity_ - 1];
  }

  const uint64_t* data() const { return keys_.data(); }
  int64_t size() const { return size_; }

 private:
  const int64_t capacity_;
  std::vector<uint64_t> keys_;
  int64_t size_ = 0;
};

// Scans the planes of one image in class order, carrying the bound from plane to plane.
template <typename T>
class ImageScanner {
 public:
  explicit ImageScanner(const DecodeParams& p)
      : p_(p),
        plane_keys_(std::min<int64_t>(p.k, plane_size(p))),
        image_keys_(std::min<int64_t>(p.k, num_cells(p))) {}

  void start_image(const T* image) {
    image_ = image;
    image_keys_.clear();
    image_bound_ = 0;
  }

  // Scans plane c (after planes < c of the same image, if any) and writes the keys that can
  // still be among the image's best K to out[0, min(K, H*W)), zero-filling the rest.
  void scan_plane(int32_t c, uint64_t* out) {
    const int32_t hw = plane_size(p_);
    const T* plane = image_ + static_cast<int64_t>(c) * hw;
    const uint32_t base = static_cast<uint32_t>(c) * static_cast<uint32_t>(hw);
    const auto load = [plane](int32_t i) { return static_cast<float>(plane[i]); };
    plane_keys_.clear();
    worst_ = 0;
    can_skip_ = false;
    raise(image_bound_);
    for (int32_t y = 0; y < p_.height; ++y) {
      for (int32_t x0 = 0; x0 < p_.width; x0 += kBlock) {
        const int32_t n = std::min(kBlock, p_.width - x0);
        const int32_t first = y * p_.width + x0;
        if (!can_skip_) {  // no usable bound yet: every pixel is offered, peak or not
          for (int32_t i = first; i < first + n; ++i) {
            offer(cell_key(p_, load, base + static_cast<uint32_t>(i), load(i)), true);
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
          offer(make_key(score, base + static_cast<uint32_t>(i)), peak);
        }
      }
    }
    plane_keys_.cut();
    const int64_t kept = plane_keys_.size();
    std::copy(plane_keys_.data(), plane_keys_.data() + kept, out);
    std::fill(out + kept, out + std::min<int64_t>(p_.k, hw), uint64_t{0});
    for (int64_t i = 0; i < kept; ++i) {
      if (image_keys_.push(plane_keys_.data()[i], true)) image_keys_.cut();
    }
    image_bound_ = std::max(image_bound_, image_keys_.cut());
  }

 private:
  void offer(uint64_t key, bool valid) {
    if (plane_keys_.push(key, valid & (key > worst_))) raise(plane_keys_.cut());
  }

  // Keys <= bound cannot enter any more (K better ones are known). Every key seen so far has a
  // lower flat index than the pixels still to come, which therefore lose ties with it: a pixel
  // can only enter with a score strictly above the bound's score w. Its score is its value (or
  // sigmoid(value), monotone non-decreasing) at a peak and 0 elsewhere; with w >= 0, a value at
  // or below the value that produced w cannot beat it, peak or not, and neither can a non-peak.
  // A NaN is never a peak and compares false, so it is skipped too. With w < 0 (negative peaks)
  // a non-peak's 0 beats it: no skipping.
  void raise(uint64_t bound) {
    if (bound <= worst_) return;
    worst_ = bound;
    const float w = key_score(bound);
    can_skip_ = w >= 0.f;
    if (w > 0.f) {
      skip_at_or_below_ = p_.logits ? static_cast<float>(image_[key_index(bound)]) : w;
    } else {
      // w == 0: any peak with a positive score beats it. Every value <= 0 has a score <= 0 as a
      // probability; as a logit, only -inf is known to give sigmoid 0.
      skip_at_or_below_ = p_.logits ? kNegInf : 0.f;
    }
  }

  const DecodeParams& p_;
  const T* image_ = nullptr;
  BestKeys plane_keys_;  // this plane's best min(K, H*W) above the bound
  BestKeys image_keys_;  // the best min(K, C*H*W) of this image's scanned planes
  uint64_t image_bound_ = 0;
  uint64_t worst_ = 0;  // keys <= worst_ cannot enter (0: no bound yet)
  bool can_skip_ = false;
  float skip_at_or_below_ = 0.f;
};

template <typename T>
void decode(const DecodeParams& p) {
  const int64_t cells = num_cells(p);
  const int64_t per_plane = std::min<int64_t>(p.k, plane_size(p));
  const int64_t planes = p.batch * p.classes;
  std::vector<uint64_t> candidates(static_cast<size_t>(planes * per_plane));
  const T* heat = static_cast<const T*>(p.heat);

  at::parallel_for(0, planes, 1, [&](int64_t begin, int64_t end) {
    ImageScanner<T> scanner(p);
    for (int64_t bc = begin; bc < end; ++bc) {
      const int64_t b = bc / p.classes;
      const int32_t c = static_cast<int32_t>(bc % p.classes);
      if (bc == begin || c == 0) scanner.start_image(heat + b * cells);
      scanner.scan_plane(c, candidates.data() + bc * per_plane);
    }
  });

  const int64_t per_image = p.classes * per_plane;  // holds the best min(K, C*H*W), zero-padded
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
  dispatch_dtype<c10::Half, c10::BFloat16, false>(p.heat_dtype,
                                                  [&](auto t) { decode<decltype(t)>(p); });
}

}  // namespace centernet_fast
