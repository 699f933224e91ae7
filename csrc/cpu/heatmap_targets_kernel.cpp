// CPU kernels of the heatmap-target ops: ctdet_targets (images in parallel, the objects of one
// image in order) and the elementwise gaussian_radius.
#include "cpu/heatmap_targets_kernel.h"

#include <ATen/Parallel.h>

#include <algorithm>

namespace centernet_fast {
namespace {

// Draws object t into its class plane by elementwise max, clipped at the map borders.
void draw_gaussian(float* plane, const ObjectTarget& t, int64_t height, int64_t width,
                   bool elliptical) {
  const Window win = clipped_window(t, height, width);
  for (int32_t dy = -win.top; dy < win.bottom; ++dy) {
    float* row = plane + static_cast<int64_t>(t.cy + dy) * width + t.cx;
    for (int32_t dx = -win.left; dx < win.right; ++dx) {
      row[dx] = std::max(row[dx], gaussian_value(t, dx, dy, elliptical));
    }
  }
}

}  // namespace

void ctdet_targets_cpu_kernel(const CtdetTargetsParams& p) {
  const int64_t plane_size = p.height * p.width;
  const int64_t image_size = p.num_classes * plane_size;
  const bool elliptical = p.mode == RadiusMode::kElliptical;
  at::parallel_for(0, p.batch, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      float* image_hm = p.hm + b * image_size;
      for (int64_t k = 0; k < p.max_objs; ++k) {
        const ObjectTarget t = describe_slot(p, b, k);
        write_slot(p, b, k, t);
        if (t.valid) draw_gaussian(image_hm + t.label * plane_size, t, p.height, p.width, elliptical);
      }
    }
  });
}

void gaussian_radius_cpu_kernel(const double* height, const double* width, double* out, int64_t n,
                                double min_overlap, RadiusMode mode) {
  at::parallel_for(0, n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[i] = gaussian_radius(height[i], width[i], min_overlap, mode);
    }
  });
}

}  // namespace centernet_fast
