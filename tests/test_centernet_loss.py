"""CenterNetLoss against the original CtdetLoss formulas (``_sigmoid`` + ``_neg_loss`` on the
heatmap, ``RegL1Loss`` on size and offset, averaged over stacks): values, gradients, zero
objects, half-precision outputs, options and errors."""

import pytest
import torch
import torch.nn.functional as F

from centernet_fast.models import CenterNetLoss
from centernet_fast.models.loss import gather_at, reg_l1_loss
from centernet_fast.ops import original
from model_fixtures import small_targets


def original_reg_l1(output, mask, ind, target):
    """The original RegL1Loss: gather at ind, masked L1 sum / (mask.sum() + 1e-4). The mask
    takes the output's dtype (the original's ``.float()`` for its float32 outputs), so that the
    float64 comparison is not limited by a float32 denominator."""
    pred = original._transpose_and_gather_feat(output, ind)
    mask = mask.unsqueeze(2).expand_as(pred).to(pred.dtype)
    return F.l1_loss(pred * mask, target * mask, reduction="sum") / (mask.sum() + 1e-4)


def original_ctdet_loss(outputs, t, hm_weight=1.0, wh_weight=0.1, off_weight=1.0):
    """The original CtdetLoss (default options) on float64 copies of the outputs."""
    hm = wh = off = 0
    for out in outputs:
        out = {k: v.double() for k, v in out.items()}
        hm = hm + original._neg_loss(original._sigmoid(out["hm"]), t.hm.double()) / len(outputs)
        wh = wh + original_reg_l1(out["wh"], t.reg_mask, t.ind, t.wh.double()) / len(outputs)
        off = off + original_reg_l1(out["reg"], t.reg_mask, t.ind, t.reg.double()) / len(outputs)
    return hm_weight * hm + wh_weight * wh + off_weight * off, {"hm": hm, "wh": wh, "off": off}


def random_outputs(targets, num_stacks=1, dtype=torch.float64, seed=0):
    """Per-stack head maps for ``targets``, requiring grad; |logits| < 8 keeps the original's
    clamp inactive, where its gradient and the fused one agree by definition."""
    g = torch.Generator().manual_seed(seed)
    b, c, h, w = targets.hm.shape
    return [{name: (torch.randn(b, ch, h, w, generator=g, dtype=torch.float64) * scale)
             .clamp(-7.9, 7.9).to(dtype).requires_grad_()
             for name, ch, scale in (("hm", c, 2.0), ("wh", 2, 5.0), ("reg", 2, 0.5))}
            for _ in range(num_stacks)]


@pytest.mark.parametrize("num_stacks", [1, 2])
def test_matches_the_original_in_value_and_gradient(num_stacks):
    t = small_targets()
    assert t.reg_mask.sum() > 2
    outputs = random_outputs(t, num_stacks)
    total, parts = CenterNetLoss()(outputs, t)
    expected, expected_parts = original_ctdet_loss(outputs, t)
    assert total.dtype == torch.float64
    torch.testing.assert_close(total, expected, atol=1e-10, rtol=1e-10)
    for k in ("hm", "wh", "off"):
        torch.testing.assert_close(parts[k], expected_parts[k], atol=1e-10, rtol=1e-10)
        assert not parts[k].requires_grad
    leaves = [v for out in outputs for v in out.values()]
    grads = torch.autograd.grad(total, leaves)
    expected_grads = torch.autograd.grad(expected, leaves)
    for g, e in zip(grads, expected_grads):
        torch.testing.assert_close(g, e, atol=1e-12, rtol=1e-9)


def test_weights():
    t = small_targets(seed=1)
    outputs = random_outputs(t, seed=1)
    total, parts = CenterNetLoss(hm_weight=0.5, wh_weight=2.0, off_weight=0.25)(outputs, t)
    expected, _ = original_ctdet_loss(outputs, t, 0.5, 2.0, 0.25)
    torch.testing.assert_close(total, expected, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(total, 0.5 * parts["hm"] + 2 * parts["wh"] + 0.25 * parts["off"])


def test_zero_objects():
    t = small_targets()
    t = t._replace(hm=torch.zeros_like(t.hm), reg_mask=torch.zeros_like(t.reg_mask))
    outputs = random_outputs(t)
    total, parts = CenterNetLoss()(outputs, t)
    expected, _ = original_ctdet_loss(outputs, t)
    torch.testing.assert_close(total, expected, atol=1e-10, rtol=1e-10)
    assert parts["wh"] == 0 and parts["off"] == 0 and parts["hm"] > 0
    total.backward()
    assert torch.isfinite(outputs[0]["hm"].grad).all() and outputs[0]["hm"].grad.any()
    assert not outputs[0]["wh"].grad.any() and not outputs[0]["reg"].grad.any()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_reduced_precision_outputs_are_reduced_in_float32(dtype):
    t = small_targets(seed=2)
    outputs = random_outputs(t, dtype=dtype, seed=2)
    total, parts = CenterNetLoss()(outputs, t)
    assert total.dtype == torch.float32 and all(p.dtype == torch.float32 for p in parts.values())
    expected, _ = original_ctdet_loss(outputs, t)  # on the same rounded values, in float64
    torch.testing.assert_close(total, expected.float(), atol=1e-5, rtol=1e-5)
    total.backward()
    assert all(v.grad.dtype == dtype and torch.isfinite(v.grad).all()
               for v in outputs[0].values())


def test_skipped_terms_need_no_head():
    t = small_targets()
    hm_only = [{"hm": random_outputs(t)[0]["hm"]}]
    total, parts = CenterNetLoss(wh_weight=0, off_weight=0)(hm_only, t)
    assert parts["wh"] == 0 and parts["off"] == 0
    torch.testing.assert_close(total, original.focal_loss(hm_only[0]["hm"], t.hm.double()))


def test_gather_at_matches_the_original_in_any_memory_format():
    t = small_targets()
    out = torch.randn(2, 5, 16, 16)
    expected = original._transpose_and_gather_feat(out, t.ind)
    assert torch.equal(gather_at(out, t.ind), expected)
    assert torch.equal(gather_at(out.to(memory_format=torch.channels_last), t.ind), expected)


def test_errors():
    t = small_targets()
    outputs = random_outputs(t)
    loss = CenterNetLoss()
    with pytest.raises(ValueError, match="non-empty list"):
        loss(outputs[0], t)
    with pytest.raises(ValueError, match="non-empty list"):
        loss([], t)
    with pytest.raises(ValueError, match=r"no 'reg' map .*off_weight=0"):
        loss([{k: v for k, v in outputs[0].items() if k != "reg"}], t)
    with pytest.raises(ValueError, match=r"no 'hm' map"):
        loss([{"wh": outputs[0]["wh"], "reg": outputs[0]["reg"]}], t)
    with pytest.raises(ValueError, match="reg_l1_loss"):
        reg_l1_loss(outputs[0]["wh"], t.reg_mask, t.ind, t.wh[..., :1])
