"""Training the DLA-34 CenterNet with CenterNetLoss on the CPU: optimisation steps reduce the
loss; channels_last, autocast and torch.compile(fullgraph=True) of model plus loss."""

import copy

import pytest
import torch

from centernet_fast.models import CenterNetLoss
from model_fixtures import small_model, small_targets


def batch(seed=0):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    return x, small_targets(seed=seed)


def test_adam_steps_on_a_fixed_batch_reduce_the_loss():
    model, loss_fn = small_model(seed=0, randomize=False), CenterNetLoss()
    x, targets = batch()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    history = []
    for _ in range(8):
        total, parts = loss_fn(model(x), targets)
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append({"total": total.item(), **{k: v.item() for k, v in parts.items()}})
    first, last = history[0], history[-1]
    assert last["total"] < 0.75 * first["total"], history
    assert all(last[k] < first[k] for k in ("hm", "wh", "off")), history


def assert_grads_close(model, other, rtol):
    """Every parameter gradient of ``model`` within rtol x its largest magnitude of
    ``other``'s (None where the other's is None)."""
    for (name, p), q in zip(model.named_parameters(), other.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            err = (p.grad - q.grad).abs().max()
            assert err <= rtol * q.grad.abs().max() + 1e-12, (name, err, q.grad.abs().max())


def test_channels_last_matches_contiguous():
    """Outputs and gradients of a channels_last model on a channels_last input, against the
    contiguous model. Gradients are compared in eval mode: in training mode the batch
    statistics over the 2 x 2 maps of a 64 x 64 input amplify float32 rounding so much that
    even float32 and float64 gradients differ by 25%."""
    model = small_model(seed=1).eval()
    x, targets = batch(1)
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_cl = x.to(memory_format=torch.channels_last)
    expected, got = model(x), cl(x_cl)
    for k in expected[0]:
        assert got[0][k].is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(got[0][k], expected[0][k], atol=1e-5, rtol=1e-4)
    CenterNetLoss()(expected, targets)[0].backward()
    CenterNetLoss()(got, targets)[0].backward()
    assert_grads_close(cl, model, rtol=1e-4)
    cl.train()
    total = CenterNetLoss()(cl(x_cl), targets)[0]
    total.backward()
    assert torch.isfinite(total) and all(torch.isfinite(p.grad).all() for p in cl.parameters()
                                         if p.grad is not None)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_forward_and_backward(dtype):
    model = small_model(seed=2)
    x, targets = batch(2)
    loss_fn = CenterNetLoss()
    reference = loss_fn(copy.deepcopy(model)(x), targets)[0]
    with torch.autocast("cpu", dtype=dtype):
        out = model(x.to(memory_format=torch.channels_last))
        total, parts = loss_fn(out, targets)
    assert all(v.dtype == dtype for v in out[0].values())
    assert total.dtype == torch.float32 and torch.isfinite(total)
    torch.testing.assert_close(total, reference, rtol=0.05, atol=0)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all()
               for g in grads)


def test_compile_fullgraph_of_model_and_loss():
    """Model forward plus loss in one graph (no break: the fused ops have fake kernels), the
    same loss and parameter gradients as eager. aot_eager traces forward and backward through
    AOTAutograd like inductor, at a fraction of inductor's CPU compile time."""
    model, loss_fn = small_model(seed=3), CenterNetLoss()
    eager = copy.deepcopy(model)
    x, targets = batch(3)

    def step(model, x, targets):
        return loss_fn(model(x), targets)

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    total, parts = compiled(model, x, targets)
    expected, expected_parts = step(eager, x, targets)
    torch.testing.assert_close(total, expected, atol=1e-5, rtol=1e-5)
    for k in parts:
        torch.testing.assert_close(parts[k], expected_parts[k], atol=1e-5, rtol=1e-5)
    total.backward()
    expected.backward()
    assert_grads_close(model, eager, rtol=1e-5)
    for (name, b), c in zip(model.named_buffers(), eager.buffers()):  # BatchNorm statistics
        torch.testing.assert_close(b, c, atol=1e-6, rtol=1e-5, msg=name)
