// Calls the centernet_fast ops through the dispatcher on CPU, as a C++ user would, and checks them
// against values worked out by hand. Exits non-zero on the first failure.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <tuple>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

using Targets = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

void test_ctdet_targets() {
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("centernet_fast::ctdet_targets", "")
                .typed<Targets(const at::Tensor&, const at::Tensor&, int64_t, at::IntArrayRef,
                               int64_t, double, c10::string_view)>();
  // One 35 x 20 box (radius exactly 7) centred at (60.5, 40.0), class 2, and one padding entry.
  const at::Tensor boxes = at::tensor({43.f, 30.f, 78.f, 50.f, 0.f, 0.f, 5.f, 5.f}).view({1, 2, 4});
  const at::Tensor labels = at::tensor({int64_t{2}, int64_t{-1}}).view({1, 2});
  const auto [hm, wh, reg, ind, reg_mask] =
      op.call(boxes, labels, 3, {64, 128}, 4, 0.7, "centernet");

  expect(hm.sizes() == at::IntArrayRef({1, 3, 64, 128}), "hm shape");
  expect(hm[0][2][40][60].item<float>() == 1.f, "peak of 1 at the truncated centre");
  const double sigma = 15.0 / 6.0;
  const float expected = static_cast<float>(std::exp(-(4.0 + 9.0) / (2 * sigma * sigma)));
  expect(hm[0][2][43][58].item<float>() == expected, "Gaussian value at offset (-2, +3)");
  expect(hm[0][2][40][67].item<float>() > 0.f && hm[0][2][40][68].item<float>() == 0.f,
         "window of radius 7");
  expect(hm.slice(1, 0, 2).count_nonzero().item<int64_t>() == 0, "other classes untouched");
  expect(wh[0][0][0].item<float>() == 35.f && wh[0][0][1].item<float>() == 20.f, "wh = (w, h)");
  expect(reg[0][0][0].item<float>() == 0.5f && reg[0][0][1].item<float>() == 0.f, "reg offset");
  expect(ind[0][0].item<int64_t>() == 40 * 128 + 60, "ind = y * W + x");
  expect(reg_mask.sum().item<int64_t>() == 1, "only the real object is marked");
}

void test_gaussian_radius() {
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("centernet_fast::gaussian_radius", "")
                .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double, c10::string_view)>();
  const at::Tensor r = op.call(at::tensor({20.0, 14.0}), at::tensor({35.0, 95.0}), 0.7, "centernet");
  expect(r[0].item<double>() == 7.0 && r[1].item<double>() == 7.0, "exactly integral radii");
}

using Decode = at::Tensor(const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                          int64_t, bool, bool, std::optional<double>);

bool row_is(const at::Tensor& row, std::initializer_list<float> values) {
  return at::equal(row, at::tensor(std::vector<float>(values)));
}

void test_ctdet_decode() {
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("centernet_fast::ctdet_decode", "")
                .typed<Decode>();
  // Two peaks: 0.8 (class 1, x = 3, y = 2) and 0.6 (class 0, corner). w = 4, h = 2 everywhere.
  const at::Tensor heat = at::zeros({1, 2, 4, 5});
  heat[0][1][2][3] = 0.8f;
  heat[0][0][0][0] = 0.6f;
  const at::Tensor wh = at::stack({at::full({4, 5}, 4.f), at::full({4, 5}, 2.f)}).unsqueeze(0);
  const at::Tensor reg = at::zeros({1, 2, 4, 5});
  reg[0][0][2][3] = 0.25f;
  reg[0][1][2][3] = 0.5f;
  const at::Tensor dets = op.call(heat, wh, reg, 3, false, false, std::nullopt);
  expect(dets.sizes() == at::IntArrayRef({1, 3, 6}), "detections shape [B, K, 6]");
  expect(row_is(dets[0][0], {1.25f, 1.5f, 5.25f, 3.5f, 0.8f, 1.f}),
         "best peak: (x - w/2, y - h/2, x + w/2, y + h/2, score, class)");
  expect(row_is(dets[0][1], {-2.f, -1.f, 2.f, 1.f, 0.6f, 0.f}), "second peak");
  expect(row_is(dets[0][2], {-1.f, -1.f, 3.f, 1.f, 0.f, 0.f}),
         "then zero scores in flat-index order (cell 1 of class 0)");
  const at::Tensor marked = op.call(heat, wh, reg, 3, false, false, 0.7);
  expect(marked[0][1][5].item<float>() == -1.f && marked[0][0][5].item<float>() == 1.f,
         "threshold marks lower scores with class -1");
  bool threw = false;
  try {
    op.call(heat, wh, reg, 0, false, false, std::nullopt);
  } catch (const c10::ValueError&) {
    threw = true;
  }
  expect(threw, "K = 0 raises ValueError");
}

void test_bad_input_throws() {
  auto op = c10::Dispatcher::singleton()
                .findSchemaOrThrow("centernet_fast::ctdet_targets", "")
                .typed<Targets(const at::Tensor&, const at::Tensor&, int64_t, at::IntArrayRef,
                               int64_t, double, c10::string_view)>();
  bool threw = false;
  try {
    op.call(at::zeros({1, 2, 4}), at::full({1, 2}, 5, at::kLong), 3, {8, 8}, 4, 0.7, "centernet");
  } catch (const c10::ValueError&) {
    threw = true;
  }
  expect(threw, "label >= num_classes raises ValueError");
}

void test_focal_loss() {
  auto forward = c10::Dispatcher::singleton()
                     .findSchemaOrThrow("centernet_fast::focal_loss", "")
                     .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                               double, double, bool)>();
  auto backward = c10::Dispatcher::singleton()
                      .findSchemaOrThrow("centernet_fast::focal_loss_backward", "")
                      .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                        const at::Tensor&, double, double, bool)>();
  // Logits 0 (p = 1/2): one positive, one negative with target 1/2. By hand:
  // pos = log(1/2) (1/2)^2, neg = log(1/2) (1/2)^2 (1/2)^4, loss = -(pos + neg) / 1.
  const at::Tensor logits = at::zeros({2}, at::kDouble);
  const at::Tensor target = at::tensor({1.0, 0.5});
  const auto [loss, num_pos] = forward.call(logits, target, 2.0, 4.0, true);
  const double expected = -(std::log(0.5) * 0.25 + std::log(0.5) * 0.25 / 16.0);
  expect(std::abs(loss.item<double>() - expected) < 1e-12, "loss by hand");
  expect(num_pos.item<int64_t>() == 1, "one positive");
  // d/dx at p = 1/2: positive (1-p)^2 ((1-p) - 2 p log p); negative w p^2 (-p + 2 (1-p) log(1-p)).
  const at::Tensor grad = backward.call(at::ones({}, at::kDouble), logits, target, num_pos, 2.0,
                                        4.0, true);
  const double g_pos = 0.25 * (0.5 - std::log(0.5)), g_neg = 0.25 / 16.0 * (-0.5 + std::log(0.5));
  expect(std::abs(grad[0].item<double>() + g_pos) < 1e-12 &&
             std::abs(grad[1].item<double>() + g_neg) < 1e-12,
         "gradient by hand");
}

}  // namespace

int main() {
  test_focal_loss();
  test_ctdet_targets();
  test_gaussian_radius();
  test_ctdet_decode();
  test_bad_input_throws();
  std::printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
