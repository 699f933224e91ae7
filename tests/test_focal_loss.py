"""focal_loss against the plain-PyTorch reference (float64 and float32), the original _neg_loss,
and its own determinism, gradients, dtypes and errors."""

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import original, reference

# The logit where the sigmoid meets the clamp bound 1 - 1e-4 (and, negated, 1e-4).
CLAMP_LOGIT = 9.21024


def heatmap_batch(shape, seed, dtype=torch.float32, positives=0.002, scale=3.0):
    """Random logits and a CenterNet-like target: mostly small Gaussian values, some exact 1s.

    Logits within 0.01 of the clamp bounds are moved away, so that float32 rounding of the sigmoid
    cannot put an element on different sides of the clamp in two implementations.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64) * scale
    near_bound = ((x.abs() - CLAMP_LOGIT).abs() < 0.01)
    x = torch.where(near_bound, x + 0.05 * x.sign(), x)
    t = torch.rand(shape, generator=g, dtype=torch.float64) ** 6
    t[torch.rand(shape, generator=g) < positives] = 1.0
    return x.to(dtype), t.to(dtype)


def loss_and_grad(fn, x, t, **kwargs):
    x = x.detach().clone().requires_grad_(True)
    loss = fn(x, t, **kwargs)
    loss.backward()
    return loss.detach(), x.grad


def rel_err(got, expected):
    """Largest error relative to the largest magnitude of ``expected`` (float64)."""
    got, expected = got.double().cpu(), expected.double().cpu()
    return float((got - expected).abs().max() / expected.abs().max().clamp(min=1e-300))


EXPONENTS = [(2.0, 4.0), (0.0, 0.0), (3.0, 1.0), (1.5, 3.5)]


@pytest.mark.parametrize("clamp", [True, False])
@pytest.mark.parametrize("alpha,beta", EXPONENTS)
def test_float64_matches_reference(alpha, beta, clamp, device, native):
    x, t = heatmap_batch((2, 3, 19, 23), seed=int(alpha * 10 + beta), dtype=torch.float64,
                         positives=0.02)
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device), alpha=alpha, beta=beta,
                               clamp=clamp)
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x, t, alpha=alpha, beta=beta,
                                       clamp=clamp)
    assert loss.dtype == torch.float64 and grad.dtype == torch.float64
    assert rel_err(loss, ref_loss) < 1e-10
    assert rel_err(grad, ref_grad) < 1e-10


@pytest.mark.parametrize("clamp", [True, False])
@pytest.mark.parametrize("alpha,beta", EXPONENTS)
@pytest.mark.parametrize("shape", [(4, 80, 32, 32), (3, 7), (1,)])
def test_float32_matches_reference(shape, alpha, beta, clamp, device, native):
    x, t = heatmap_batch(shape, seed=len(shape) + int(alpha))
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device), alpha=alpha, beta=beta,
                               clamp=clamp)
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x, t, alpha=alpha, beta=beta,
                                       clamp=clamp)
    assert loss.dtype == torch.float32 and loss.shape == () and grad.dtype == torch.float32
    assert rel_err(loss, ref_loss) < 1e-5
    assert rel_err(grad, ref_grad) < 1e-5


def test_matches_original_neg_loss(device, native):
    x, t = heatmap_batch((2, 80, 64, 64), seed=3)
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device))
    orig_loss, orig_grad = loss_and_grad(original.focal_loss, x, t)
    assert rel_err(loss, orig_loss) < 1e-5
    assert rel_err(grad, orig_grad) < 1e-5


def test_bit_identical_across_runs_and_thread_counts(device, native):
    x, t = heatmap_batch((3, 80, 48, 48), seed=4)
    x, t = x.to(device), t.to(device)
    runs = [loss_and_grad(ops.focal_loss, x, t)]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        runs.append(loss_and_grad(ops.focal_loss, x, t))
    finally:
        torch.set_num_threads(threads)
    runs.append(loss_and_grad(ops.focal_loss, x, t))
    for loss, grad in runs[1:]:
        assert torch.equal(loss, runs[0][0]) and torch.equal(grad, runs[0][1])


@pytest.mark.parametrize("clamp", [True, False])
def test_no_positives_gives_unnormalised_negative_loss(clamp, device, native):
    x, t = heatmap_batch((2, 5, 16, 16), seed=5, positives=0.0)
    t = t.clamp(max=0.99)
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device), clamp=clamp)
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x, t, clamp=clamp)
    assert rel_err(loss, ref_loss) < 1e-5 and rel_err(grad, ref_grad) < 1e-5
    # by hand, in float64: -sum log(1-p) p^2 (1-t)^4
    p = torch.sigmoid(x.double())
    if clamp:
        p = p.clamp(1e-4, 1 - 1e-4)
    expected = -(torch.log1p(-p) * p ** 2 * (1 - t.double()) ** 4).sum()
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("clamp", [True, False])
def test_saturated_logits(clamp, device, native):
    x = torch.tensor([-100.0, -30.0, -12.0, 12.0, 30.0, 100.0] * 2)
    t = torch.tensor([1.0] * 6 + [0.5] * 6)
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device), clamp=clamp)
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x.double(), t.double(), clamp=clamp)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert rel_err(loss, ref_loss) < 1e-5 and rel_err(grad, ref_grad) < 1e-5
    if clamp:  # every probability here is clamped: no gradient flows
        assert torch.equal(grad.cpu(), torch.zeros_like(grad.cpu()))
    else:  # a confidently wrong positive costs about its logit: -log sigmoid(-100) = 100
        assert float(loss) > (100 + 30 + 12) / 6


def test_clamp_bounds_pass_the_gradient(device, native):
    # Logits whose float32 sigmoid is exactly a clamp bound keep their gradient (the bounds are in
    # the pass-through range, as the issue specifies and torch.clamp did up to 2.13; the autograd
    # of torch.clamp is not used as the oracle here because it changed between releases). Just
    # outside the bounds the gradient is exactly 0.
    lo, hi = torch.tensor(1e-4), torch.tensor(1 - 1e-4)
    at_bounds = torch.tensor([torch.logit(lo).item(), torch.logit(hi).item()])
    assert torch.equal(torch.sigmoid(at_bounds), torch.stack([lo, hi]))
    if device != "cpu":
        # CUDA's expf may round these sigmoids one ulp outside the bound; test just inside.
        at_bounds = at_bounds + torch.tensor([1e-3, -1e-3])
    x = torch.cat([at_bounds, torch.tensor([-9.5, 9.5])])
    _, grad = loss_and_grad(ops.focal_loss, x.to(device), torch.zeros(4, device=device))
    assert (grad[:2] != 0).all() and (grad[2:] == 0).all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("target_dtype", ["float32", "same"])
def test_16_bit_inputs(dtype, target_dtype, device, native):
    x, t = heatmap_batch((2, 10, 24, 24), seed=6, dtype=dtype)
    t = t.float() if target_dtype == "float32" else t
    loss, grad = loss_and_grad(ops.focal_loss, x.to(device), t.to(device))
    # the reference on the same values, widened to float32
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x.float(), t.float())
    assert loss.dtype == torch.float32 and grad.dtype == dtype
    assert rel_err(loss, ref_loss) < 1e-5
    assert torch.allclose(grad.float().cpu(), ref_grad.to(dtype).float(), rtol=1e-2, atol=1e-9)


def test_ignores_targets_above_one_and_propagates_nan(device, native):
    x, t = heatmap_batch((1, 2, 8, 8), seed=8, positives=0.05)
    t_ignored = t.clone()
    t_ignored[0, 0, :2] = 2.0  # ignored pixels
    kept = torch.ones_like(t, dtype=torch.bool)
    kept[0, 0, :2] = False
    loss = ops.focal_loss(x.to(device), t_ignored.to(device))
    expected = reference.focal_loss(x[kept], t[kept])
    num_pos_kept = int((t[kept] == 1).sum())
    assert num_pos_kept > 0
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)

    nan_logits = x.clone()
    nan_logits[0, 1, 3, 3] = float("nan")
    assert torch.isnan(ops.focal_loss(nan_logits.to(device), t.to(device)))
    nan_target = t.clone()
    nan_target[0, 1, 3, 3] = float("nan")
    assert torch.isnan(ops.focal_loss(x.to(device), nan_target.to(device)))


def test_empty_input(device, native):
    x = torch.empty(0, 80, 4, 4, device=device, requires_grad=True)
    loss = ops.focal_loss(x, torch.empty(0, 80, 4, 4, device=device))
    loss.backward()
    assert loss.item() == 0.0 and not torch.signbit(loss) and x.grad.shape == x.shape


def test_non_contiguous_inputs(device, native):
    x, t = heatmap_batch((2, 6, 20, 20), seed=9)
    xs, ts = x.to(device).transpose(2, 3), t.to(device).transpose(2, 3)
    assert not xs.is_contiguous()
    loss, grad = loss_and_grad(ops.focal_loss, xs, ts)
    ref_loss, ref_grad = loss_and_grad(reference.focal_loss, x.transpose(2, 3), t.transpose(2, 3))
    assert rel_err(loss, ref_loss) < 1e-5 and rel_err(grad, ref_grad) < 1e-5


@pytest.mark.parametrize("clamp", [True, False])
def test_gradcheck(clamp, native, device):
    x, t = heatmap_batch((2, 3, 5, 4), seed=10, dtype=torch.float64, positives=0.1)
    x = x.to(device).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: ops.focal_loss(z, t.to(device), clamp=clamp), (x,))


def test_opcheck(native, device):
    x, t = heatmap_batch((2, 3, 6, 5), seed=11)
    x, t = x.to(device).requires_grad_(True), t.to(device)
    torch.library.opcheck(native.focal_loss.default, (x, t, 2.0, 4.0, True))
    loss, num_pos = native.focal_loss(x, t, 2.0, 4.0, True)
    grad_loss = torch.ones((), device=device)
    torch.library.opcheck(native.focal_loss_backward.default,
                          (grad_loss, x.detach(), t, num_pos, 2.0, 4.0, True))


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_fullgraph(backend, native, device):
    x, t = heatmap_batch((2, 4, 16, 16), seed=12)
    x, t = x.to(device), t.to(device)

    def step(z, target):
        return ops.focal_loss(z * 1.0, target) * 2.0

    compiled = torch.compile(step, backend=backend, fullgraph=True)
    loss, grad = loss_and_grad(compiled, x, t)
    eager_loss, eager_grad = loss_and_grad(step, x, t)
    assert torch.equal(loss, eager_loss) and torch.equal(grad, eager_grad)


ERRORS = [
    (lambda: (torch.zeros(2, 3), torch.zeros(2, 4)), "target must have the logits' shape"),
    (lambda: (torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3)), "logits must be float32"),
    (lambda: (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int32)), "target must be float32"),
    (lambda: (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.float64)),
     "target must be float32 or the logits' dtype"),
]


@pytest.mark.parametrize("impl", ["ops", "reference"])
@pytest.mark.parametrize("make,message", ERRORS)
def test_bad_input_raises_value_error(make, message, impl, request):
    fn = request.getfixturevalue("native").focal_loss if impl == "ops" else reference.focal_loss
    with pytest.raises(ValueError, match=message):
        fn(*make())


@pytest.mark.parametrize("impl", ["ops", "reference"])
@pytest.mark.parametrize("name,kwargs", [("alpha", {"alpha": -1.0}), ("beta", {"beta": float("inf")})])
def test_bad_exponent_raises_value_error(name, kwargs, impl, request):
    fn = request.getfixturevalue("native").focal_loss if impl == "ops" else reference.focal_loss
    with pytest.raises(ValueError, match=f"{name} must be a finite non-negative number"):
        fn(torch.zeros(4), torch.zeros(4), **kwargs)


def test_target_gradient_is_refused(native):
    x, t = heatmap_batch((2, 3), seed=13)
    t.requires_grad_(True)
    loss = ops.focal_loss(x.requires_grad_(True), t)
    with pytest.raises(NotImplementedError, match="gradient with respect to target"):
        loss.backward()
