// Raw-pointer description of one ctdet_targets call, filled by the op entry point and read by the
// CPU and CUDA kernels (which therefore need no PyTorch headers).
#pragma once

#include <cstdint>

#include "gaussian_target.h"

namespace centernet_fast {

struct CtdetTargetsParams {
  // inputs
  const float* boxes;    // [batch, num_boxes, 4] (x1, y1, x2, y2), output-map coordinates
  const int64_t* labels;  // [batch, num_boxes], -1 = padding
  int64_t batch;
  int64_t num_boxes;
  // outputs: hm arrives zero-filled and only the Gaussian windows are written; every element of
  // the others is written by the kernel
  float* hm;            // [batch, num_classes, height, width]
  float* wh;            // [batch, max_objs, 2]
  float* reg;           // [batch, max_objs, 2]
  int64_t* ind;         // [batch, max_objs]
  uint8_t* reg_mask;    // [batch, max_objs]
  // arguments
  int64_t num_classes;
  int64_t height;
  int64_t width;
  int64_t max_objs;
  double min_overlap;
  RadiusMode mode;
};

// Writes slot k of image b from its described object (zeros when the object is absent).
CNF_HOST_DEVICE void write_slot(const CtdetTargetsParams& p, int64_t b, int64_t k,
                                const ObjectTarget& t) {
  const int64_t slot = b * p.max_objs + k;
  p.wh[2 * slot] = t.valid ? t.w : 0.f;
  p.wh[2 * slot + 1] = t.valid ? t.h : 0.f;
  p.reg[2 * slot] = t.valid ? t.reg_x : 0.f;
  p.reg[2 * slot + 1] = t.valid ? t.reg_y : 0.f;
  p.ind[slot] = t.valid ? static_cast<int64_t>(t.cy) * p.width + t.cx : 0;
  p.reg_mask[slot] = t.valid ? 1 : 0;
}

// Describes object k of image b, or an absent object for slots beyond the given boxes.
CNF_HOST_DEVICE ObjectTarget describe_slot(const CtdetTargetsParams& p, int64_t b, int64_t k) {
  if (k >= p.num_boxes) {
    ObjectTarget absent{};
    absent.valid = false;
    return absent;
  }
  const int64_t i = b * p.num_boxes + k;
  return describe_object(p.boxes + 4 * i, p.labels[i], p.height, p.width, p.min_overlap, p.mode);
}

}  // namespace centernet_fast
