"""focal_loss and deform_conv2d: the CUDA kernels, executed on the CPU emulation through their CUDA
registrations, against the CPU kernels. Bit-identical under every schedule (both claim
determinism); against the CPU kernels, whose summation order differs, within stated tolerances."""

import pytest
import torch

from cuda_emu_harness import SCHEDULES, across_schedules
from deform_conv_cases import DCN_CASE, SMALL, border_tensors, make_tensors, random_case

cpu = torch.ops.centernet_fast


def focal_inputs(n, dtype, target_dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, generator=g, dtype=torch.float64) * 4).to(dtype)
    target = torch.rand(n, generator=g, dtype=torch.float64) ** 4
    target[torch.rand(n, generator=g) < 0.05] = 1.0  # positives
    return logits, target.to(target_dtype)


def close(got, expected, rtol, atol, what):
    torch.testing.assert_close(got.double(), expected.double(), rtol=rtol, atol=atol, msg=what)


# (logits dtype, target dtype, relative tolerance of the loss, of the gradient)
FOCAL_DTYPES = [
    (torch.float32, torch.float32, 1e-5, 1e-5),
    (torch.float64, torch.float64, 1e-12, 1e-12),
    (torch.float16, torch.float16, 1e-5, 2e-3),   # gradients rounded to 16 bits
    (torch.bfloat16, torch.float32, 1e-5, 1e-2),
]
# (alpha, beta, clamp): integer exponents take the multiplication path, others powf.
FOCAL_MODES = [(2.0, 4.0, True), (2.0, 4.0, False), (2.5, 3.5, True), (1.5, 4.0, False)]


@pytest.mark.parametrize("alpha, beta, clamp", FOCAL_MODES)
@pytest.mark.parametrize("dtype, target_dtype, loss_tol, grad_tol", FOCAL_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 1000, 77520])
def test_focal_loss(emu, n, dtype, target_dtype, loss_tol, grad_tol, alpha, beta, clamp):
    logits, target = focal_inputs(n, dtype, target_dtype, seed=n)
    schedules = SCHEDULES if n <= 1000 else SCHEDULES[:2]
    loss, num_pos = across_schedules(emu.focal_loss, logits, target, alpha, beta, clamp,
                                     schedules=schedules)
    cpu_loss, cpu_num_pos = cpu.focal_loss(logits, target, alpha, beta, clamp)
    assert num_pos.item() == cpu_num_pos.item()
    close(loss, cpu_loss, loss_tol, 1e-30, "loss")
    grad_loss = torch.tensor(0.75, dtype=loss.dtype)
    grad = across_schedules(emu.focal_loss_backward, grad_loss, logits, target, num_pos, alpha,
                            beta, clamp, schedules=schedules)
    cpu_grad = cpu.focal_loss_backward(grad_loss, logits, target, cpu_num_pos, alpha, beta, clamp)
    assert grad.dtype == logits.dtype
    close(grad, cpu_grad, grad_tol, 1e-7 if dtype != torch.float64 else 1e-15, "gradient")


def test_focal_loss_forward_at_the_block_cap(emu):
    # 2^20 + 1 elements: more than the 1024 blocks x 256 threads x 4 loads of one pass, so the
    # grid is capped and each thread loops; the finaliser adds 1024 partial sums.
    logits, target = focal_inputs((1 << 20) + 1, torch.float32, torch.float32, seed=5)
    loss, num_pos = across_schedules(emu.focal_loss, logits, target, 2.0, 4.0, True,
                                     schedules=SCHEDULES[:1])
    cpu_loss, cpu_num_pos = cpu.focal_loss(logits, target, 2.0, 4.0, True)
    assert num_pos.item() == cpu_num_pos.item()
    close(loss, cpu_loss, 1e-5, 0, "loss")


def test_focal_loss_nan_and_ignored_targets(emu):
    logits, target = focal_inputs(600, torch.float32, torch.float32, seed=9)
    target[:10] = 2.0  # above one: ignored
    logits[20] = float("nan")
    loss, num_pos = across_schedules(emu.focal_loss, logits, target, 2.0, 4.0, True)
    cpu_loss, cpu_num_pos = cpu.focal_loss(logits, target, 2.0, 4.0, True)
    assert num_pos.item() == cpu_num_pos.item()
    assert torch.isnan(loss).item() == torch.isnan(cpu_loss).item()


DEFORM_TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 2e-2,
                     torch.bfloat16: 5e-2}


def deform_both(emu, case, tensors, dtype, border_rule="torchvision"):
    input, offset, weight, bias, mask = tensors
    args = (case.stride, case.padding, case.dilation)
    out = across_schedules(emu.deform_conv2d, input, offset, weight, bias, *args, mask,
                           border_rule)
    tol = DEFORM_TOLERANCES[dtype]
    close(out, cpu.deform_conv2d(input, offset, weight, bias, *args, mask, border_rule), tol, tol,
          "output")
    g = torch.Generator().manual_seed(77)
    grad_output = torch.randn(out.shape, generator=g, dtype=torch.float64).to(dtype)
    grads = across_schedules(emu.deform_conv2d_backward, grad_output, input, offset, weight,
                             mask, *args, [True, True, True], border_rule)
    cpu_grads = cpu.deform_conv2d_backward(grad_output, input, offset, weight, mask, *args,
                                           [True, True, True], border_rule)
    names = ["input", "offset", "weight", "bias", "mask"]
    for name, got, expected in zip(names, grads, cpu_grads):
        close(got, expected, tol, tol, f"grad_{name}")


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_deform_conv2d_random_geometries(emu, seed, dtype):
    case = random_case(seed)
    deform_both(emu, case, make_tensors(case, seed, dtype=dtype), dtype)


@pytest.mark.parametrize("border_rule", ["torchvision", "dcnv2"])
@pytest.mark.parametrize("case", [SMALL, DCN_CASE], ids=["2x2-pad1", "3x3-pad1"])
def test_deform_conv2d_border_rules(emu, case, border_rule):
    # Half-pixel offsets: many sampling points exactly on -1, H and W, where the rules differ.
    tensors = border_tensors(case, 6)
    deform_both(emu, case, tensors, torch.float64, border_rule)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_deform_conv2d_16_bit(emu, dtype):
    deform_both(emu, DCN_CASE, make_tensors(DCN_CASE, 3, dtype=dtype), dtype)


def test_deform_conv2d_without_mask_and_bias(emu):
    tensors = make_tensors(DCN_CASE, 4, with_mask=False, with_bias=False)
    deform_both(emu, DCN_CASE, tensors, torch.float64)


@pytest.mark.parametrize("output_mask", [[True, False, False], [False, True, False],
                                         [False, False, True]])
def test_deform_conv2d_backward_parts(emu, output_mask):
    # Each gradient computed alone takes its own branch of the launcher.
    input, offset, weight, bias, mask = make_tensors(DCN_CASE, 5)
    args = (DCN_CASE.stride, DCN_CASE.padding, DCN_CASE.dilation)
    grad_output = torch.randn(cpu.deform_conv2d(input, offset, weight, bias, *args, mask).shape,
                              dtype=torch.float64)
    got = emu.deform_conv2d_backward(grad_output, input, offset, weight, mask, *args, output_mask)
    expected = cpu.deform_conv2d_backward(grad_output, input, offset, weight, mask, *args,
                                          output_mask)
    wanted = {0: [0], 1: [1, 4], 2: [2, 3]}[output_mask.index(True)]
    for i in wanted:
        close(got[i], expected[i], 1e-10, 1e-10, f"gradient {i}")
