"""The compiled deform_conv2d against the plain-PyTorch reference (forward and every gradient),
gradcheck, opcheck, determinism, dtypes, errors and torch.compile."""

import pytest
import torch

from centernet_fast import ops
from centernet_fast.ops import reference
from deform_conv_cases import DCN_CASE, make_tensors, random_case, run
from test_deform_conv2d_reference import assert_close_all, error_cases


def on(device, tensors):
    return [t.to(device) if t is not None else None for t in tensors]


@pytest.mark.parametrize("seed", range(16))
def test_float64_matches_reference(seed, device, native):
    case = random_case(seed)
    tensors = make_tensors(case, seed, offset_scale=3.0)
    out, grads = run(ops.deform_conv2d, case, on(device, tensors))
    ref_out, ref_grads = run(reference.deform_conv2d, case, tensors)
    torch.testing.assert_close(out.cpu(), ref_out, atol=1e-10, rtol=0)
    assert_close_all([g.cpu() if g is not None else None for g in grads], ref_grads, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_float32_matches_reference(seed, device, native):
    case = random_case(50 + seed)
    tensors = make_tensors(case, seed)
    out, grads = run(ops.deform_conv2d, case, on(device, [t.float() for t in tensors]))
    ref_out, ref_grads = run(reference.deform_conv2d, case, tensors)
    torch.testing.assert_close(out.double().cpu(), ref_out, atol=1e-4, rtol=1e-4)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a.double().cpu(), b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("with_mask,with_bias", [(False, True), (True, False), (False, False)])
def test_optional_arguments(with_mask, with_bias, device, native):
    tensors = make_tensors(DCN_CASE, 7, with_mask=with_mask, with_bias=with_bias)
    out, grads = run(ops.deform_conv2d, DCN_CASE, on(device, tensors))
    ref_out, ref_grads = run(reference.deform_conv2d, DCN_CASE, tensors)
    torch.testing.assert_close(out.cpu(), ref_out, atol=1e-10, rtol=0)
    assert_close_all([g.cpu() if g is not None else None for g in grads], ref_grads, atol=1e-10)


def test_matches_torchvision(device, native):
    torchvision = pytest.importorskip("torchvision")
    case = random_case(3)
    tensors = on(device, make_tensors(case, 3, dtype=torch.float32))
    out, grads = run(ops.deform_conv2d, case, tensors)
    tv_out, tv_grads = run(torchvision.ops.deform_conv2d, case, tensors)
    torch.testing.assert_close(out, tv_out, atol=1e-4, rtol=1e-4)
    for a, b in zip(grads, tv_grads):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_gradcheck(device, native):
    case = random_case(11)
    tensors = [t.requires_grad_(True) for t in on(device, make_tensors(case, 11))]

    def fn(input, offset, weight, bias, mask):
        return ops.deform_conv2d(input, offset, weight, bias, case.stride, case.padding,
                                 case.dilation, mask)

    assert torch.autograd.gradcheck(fn, tensors)


def test_zero_offsets_and_unit_mask_equal_conv2d(device, native):
    case = random_case(21)
    input, offset, weight, bias, mask = on(device, make_tensors(case, 21))
    out = ops.deform_conv2d(input, torch.zeros_like(offset), weight, bias, case.stride,
                            case.padding, case.dilation, torch.ones_like(mask))
    expected = torch.nn.functional.conv2d(input, weight, bias, case.stride, case.padding,
                                          case.dilation, case.groups)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=0)


def test_many_images_span_several_chunks(native):
    """A batch larger than one chunk of the CPU kernel's column buffer (32 MiB)."""
    case = DCN_CASE._replace(batch=5, channels=64, height=48, width=48, out_channels=4)
    tensors = make_tensors(case, 2, dtype=torch.float64)
    out, grads = run(ops.deform_conv2d, case, tensors)
    ref_out, ref_grads = run(reference.deform_conv2d, case, tensors)
    torch.testing.assert_close(out, ref_out, atol=1e-10, rtol=0)
    assert_close_all(grads, ref_grads, atol=1e-9)


def test_deterministic(device, native):
    case = DCN_CASE._replace(batch=3, channels=16, height=20, width=17)
    tensors = on(device, make_tensors(case, 4, dtype=torch.float32))
    first_out, first_grads = run(ops.deform_conv2d, case, tensors)
    for _ in range(3):
        out, grads = run(ops.deform_conv2d, case, tensors)
        assert torch.equal(out, first_out)
        for a, b in zip(grads, first_grads):
            assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_dtypes(dtype, device, native):
    tensors = make_tensors(DCN_CASE, 8)
    out, grads = run(ops.deform_conv2d, DCN_CASE, on(device, [t.to(dtype) for t in tensors]))
    ref_out, ref_grads = run(reference.deform_conv2d, DCN_CASE,
                             [t.to(dtype).double() for t in tensors])
    assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
    tol = 2e-2 if dtype == torch.float16 else 1e-1
    torch.testing.assert_close(out.double().cpu(), ref_out, atol=tol, rtol=tol)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a.double().cpu(), b, atol=tol * 4, rtol=tol)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_runs_in_the_autocast_dtype(dtype, device, native):
    """Inside torch.autocast the op computes in the context's dtype, like a convolution; the
    gradients reach the float32 leaves in float32."""
    device_type = torch.device(device).type
    tensors = on(device, make_tensors(DCN_CASE, 10, dtype=torch.float32))
    # The float32 result for the rounded inputs: rounding the offsets moves sampling points
    # across pixel edges, where the offset gradient jumps.
    expected, expected_grads = run(ops.deform_conv2d, DCN_CASE,
                                   [t.to(dtype).float() for t in tensors])
    with torch.autocast(device_type, dtype=dtype):
        out, grads = run(ops.deform_conv2d, DCN_CASE, tensors)
    assert out.dtype == dtype
    assert all(g.dtype == torch.float32 for g in grads)
    torch.testing.assert_close(out.float(), expected, atol=1e-1, rtol=5e-2)
    for a, b in zip(grads, expected_grads):
        torch.testing.assert_close(a, b, atol=2e-1, rtol=5e-2)


def test_autocast_leaves_float64_alone(native):
    tensors = make_tensors(DCN_CASE, 11)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ops.deform_conv2d(*tensors[:4], DCN_CASE.stride, DCN_CASE.padding,
                                DCN_CASE.dilation, tensors[4])
    assert out.dtype == torch.float64


def test_offsets_far_outside_and_nonfinite_positions(native):
    """Huge and NaN offsets sample zeros, without undefined integer conversions."""
    input, offset, weight, bias, mask = make_tensors(DCN_CASE, 9)
    offset[:, 0] = 1e30
    offset[:, 1] = -1e30
    offset[0, 2] = float("nan")
    out, grads = run(ops.deform_conv2d, DCN_CASE, (input, offset, weight, bias, mask))
    finite = offset.clone()
    finite[:, :2] = 1e6
    finite[0, 2] = 1e6
    expected, _ = run(reference.deform_conv2d, DCN_CASE, (input, finite, weight, bias, mask))
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=0)
    assert all(torch.isfinite(g).all() for g in grads)


def test_double_backward_raises(native):
    tensors = [t.requires_grad_(True) for t in make_tensors(DCN_CASE, 1)]
    input, offset, weight, bias, mask = tensors
    out = ops.deform_conv2d(input, offset, weight, bias, 1, 1, 1, mask)
    (grad,) = torch.autograd.grad(out.square().sum(), input, create_graph=True)
    with pytest.raises(NotImplementedError, match="double backward"):
        grad.sum().backward()


@pytest.mark.parametrize("changes,message", [c[1:] for c in error_cases()],
                         ids=[c[0] for c in error_cases()])
def test_bad_arguments_raise_value_error_naming_them(changes, message, native):
    x, off, w, b, m = make_tensors(DCN_CASE, 0)
    kwargs = dict(input=x, offset=off, weight=w, bias=b, stride=1, padding=1, dilation=1, mask=m)
    kwargs.update(changes)
    if any(isinstance(v, torch.Tensor) and v.device.type == "meta" for v in kwargs.values()):
        pytest.skip("mixed meta/CPU arguments dispatch to the fake kernel")
    with pytest.raises(ValueError, match=message):
        ops.deform_conv2d(**kwargs)


def test_opcheck(device, native):
    case = random_case(13)
    input, offset, weight, bias, mask = on(device, make_tensors(case, 13))
    for t in (input, offset, weight, bias, mask):
        t.requires_grad_(True)
    args = (input, offset, weight, bias, list(case.stride), list(case.padding),
            list(case.dilation), mask)
    torch.library.opcheck(torch.ops.centernet_fast.deform_conv2d.default, args)
    torch.library.opcheck(torch.ops.centernet_fast.deform_conv2d.default,
                          args[:3] + (None,) + args[4:7] + (None,))


def test_dcn_module_compiles_fullgraph(native):
    torch.manual_seed(0)
    layer = ops.DCN(8, 6, (3, 3), stride=1, padding=1).double()
    with torch.no_grad():  # non-zero offsets and mask, so that they matter
        layer.conv_offset_mask.weight.normal_(0, 0.1)
    x = torch.randn(2, 8, 10, 12, dtype=torch.float64, requires_grad=True)
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    out = compiled(x)
    eager = layer(x)
    torch.testing.assert_close(out, eager, atol=1e-12, rtol=0)
    out.sum().backward()
    grad = x.grad.clone()
    x.grad = None
    eager.sum().backward()
    torch.testing.assert_close(grad, x.grad, atol=1e-12, rtol=0)


@pytest.mark.parametrize("wanted", ["input", "offset", "weight", "bias", "mask"])
def test_backward_of_a_subset_matches_the_full_backward(device, native, wanted):
    """The backward op gets an output mask from needs_input_grad: the gradients asked for are
    those of the full backward, bit for bit, and the others are None."""
    g = torch.Generator().manual_seed(3)
    shapes = dict(input=(2, 4, 7, 6), offset=(2, 18, 7, 6), weight=(5, 4, 3, 3), bias=(5,),
                  mask=(2, 9, 7, 6))
    tensors = {k: (torch.randn(s, generator=g) * (2 if k == "offset" else 1)).to(device)
               for k, s in shapes.items()}

    def grads(names):
        leaves = {k: t.clone().requires_grad_(k in names) for k, t in tensors.items()}
        out = ops.deform_conv2d(leaves["input"], leaves["offset"], leaves["weight"],
                                leaves["bias"], padding=1, mask=leaves["mask"])
        out.backward(torch.ones_like(out))
        return {k: t.grad for k, t in leaves.items()}

    full = grads(set(shapes))
    part = grads({wanted})
    for k in shapes:
        if k == wanted:
            assert torch.equal(part[k], full[k]), k
        else:
            assert part[k] is None, k
