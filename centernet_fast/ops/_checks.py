"""Argument checks of the reference ops, with the same messages as the compiled ops' checks."""

from typing import NamedTuple

import torch

RADIUS_MODES = ("centernet", "corrected")
TARGET_RADIUS_MODES = RADIUS_MODES + ("elliptical",)
# deform_conv2d's offset gradient at the border of the sampled region (see ops.deform_conv2d).
BORDER_RULES = ("torchvision", "dcnv2")


def require(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def require_same_device(op: str, a_name: str, a: torch.Tensor, b_name: str,
                        b: torch.Tensor) -> None:
    require(a.device == b.device,
            f"{op}: {a_name} and {b_name} must be on the same device; got {a.device} and "
            f"{b.device}")


def check_min_overlap(op: str, min_overlap: float) -> None:
    require(0.0 < min_overlap < 1.0,
            f"{op}: min_overlap must be in the open interval (0, 1); got {min_overlap}")


def check_mode(op: str, arg: str, mode: str, choices) -> None:
    names = ", ".join(f"'{c}'" for c in choices)
    require(mode in choices, f"{op}: {arg} must be one of {names}; got '{mode}'")


def check_gaussian_radius_args(height, width, min_overlap, mode) -> None:
    op = "gaussian_radius"
    for name, t in (("height", height), ("width", width)):
        require(t.dtype != torch.bool and not t.is_complex(),
                f"{op}: {name} must be a real (floating-point or integer) tensor; got {t.dtype}")
    require(height.shape == width.shape,
            f"{op}: height and width must have the same shape; got {list(height.shape)} and "
            f"{list(width.shape)}")
    require_same_device(op, "height", height, "width", width)
    check_min_overlap(op, min_overlap)
    check_mode(op, "mode", mode, RADIUS_MODES)


def check_ctdet_targets_args(boxes, labels, num_classes, output_size, max_objs, min_overlap,
                             radius_mode) -> None:
    op = "ctdet_targets"
    require(boxes.dim() == 3 and boxes.shape[2] == 4,
            f"{op}: boxes must have shape [B, N, 4]; got {list(boxes.shape)}")
    require(boxes.dtype == torch.float32, f"{op}: boxes must be float32; got {boxes.dtype}")
    require(labels.dim() == 2, f"{op}: labels must have shape [B, N]; got {list(labels.shape)}")
    require(labels.dtype == torch.int64, f"{op}: labels must be int64; got {labels.dtype}")
    require(labels.shape == boxes.shape[:2],
            f"{op}: labels must have shape [B, N] = {list(boxes.shape[:2])} to match boxes; got "
            f"{list(labels.shape)}")
    require_same_device(op, "boxes", boxes, "labels", labels)
    require(0 < num_classes < 2 ** 31, f"{op}: num_classes must be in [1, 2^31); got {num_classes}")
    require(len(output_size) == 2 and all(s > 0 for s in output_size),
            f"{op}: output_size must be two positive integers (H, W); got {list(output_size)}")
    require(output_size[0] * output_size[1] < 2 ** 31,
            f"{op}: output_size H * W must be below 2^31; got {list(output_size)}")
    require(max_objs >= 0, f"{op}: max_objs must be non-negative; got {max_objs}")
    check_min_overlap(op, min_overlap)
    check_mode(op, "radius_mode", radius_mode, TARGET_RADIUS_MODES)
    if labels.numel():
        lo, hi = int(labels.min()), int(labels.max())
        require(lo >= -1 and hi < num_classes,
                f"{op}: labels must be in [-1, num_classes) = [-1, {num_classes}) with -1 marking "
                f"padding; got values in [{lo}, {hi}]")


FOCAL_LOSS_LOGIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def check_focal_loss_args(logits, target, alpha, beta) -> None:
    op = "focal_loss"
    require(logits.dtype in FOCAL_LOSS_LOGIT_DTYPES,
            f"{op}: logits must be float32, float16, bfloat16 or float64; got {logits.dtype}")
    require(target.dtype in (torch.float32, logits.dtype),
            f"{op}: target must be float32 or the logits' dtype ({logits.dtype}); got "
            f"{target.dtype}")
    require(target.shape == logits.shape,
            f"{op}: target must have the logits' shape {list(logits.shape)}; got "
            f"{list(target.shape)}")
    require_same_device(op, "logits", logits, "target", target)
    for name, value in (("alpha", alpha), ("beta", beta)):
        require(0.0 <= value < float("inf"),
                f"{op}: {name} must be a finite non-negative number; got {value}")


HEAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _check_map(op, arg, t, heat, channels, channels_name) -> None:
    expected = [heat.shape[0], channels, heat.shape[2], heat.shape[3]]
    require(t.dim() == 4 and list(t.shape) == expected,
            f"{op}: {arg} must have shape [B, {channels_name}, H, W] = {expected} to match heat; "
            f"got {list(t.shape)}")
    require(t.is_floating_point(), f"{op}: {arg} must be a floating-point tensor; got {t.dtype}")
    require(t.device == heat.device,
            f"{op}: {arg} must be on the same device as heat ({heat.device}); got {t.device}")


def check_ctdet_decode_args(heat, wh, reg, K, cat_spec_wh) -> None:
    op = "ctdet_decode"
    require(heat.dim() == 4, f"{op}: heat must have shape [B, C, H, W]; got {list(heat.shape)}")
    require(heat.dtype in HEAT_DTYPES,
            f"{op}: heat must be float32, float16 or bfloat16; got {heat.dtype}")
    _, classes, height, width = heat.shape
    require(classes >= 1 and height >= 1 and width >= 1,
            f"{op}: heat must have shape [B, C, H, W] with C, H, W >= 1; got {list(heat.shape)}")
    require(classes * height * width < 2 ** 31,
            f"{op}: heat's C * H * W must be below 2^31; got {list(heat.shape)}")
    _check_map(op, "wh", wh, heat, 2 * classes if cat_spec_wh else 2, "2C" if cat_spec_wh else "2")
    if reg is not None:
        _check_map(op, "reg", reg, heat, 2, "2")
    require(K >= 1, f"{op}: K must be at least 1; got {K}")


DEFORM_CONV_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


class DeformConvGeometry(NamedTuple):
    """The sizes of one deform_conv2d call, inferred from the argument shapes."""
    groups: int         # conv groups: C // weight.shape[1]
    offset_groups: int  # deformable groups: offset.shape[1] // (2 * kh * kw)
    out_h: int
    out_w: int


def pair(op: str, arg: str, value) -> tuple:
    """An int or a sequence of two ints as (h, w)."""
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    require(len(value) == 2 and all(isinstance(v, int) for v in value),
            f"{op}: {arg} must be an int or two ints (h, w); got {value}")
    return value


def _check_companion(op, arg, t, input) -> None:
    require(t.dtype == input.dtype,
            f"{op}: {arg} must have the input's dtype ({input.dtype}); got {t.dtype}")
    require(t.device == input.device,
            f"{op}: {arg} must be on the input's device ({input.device}); got {t.device}")


def check_deform_conv2d_args(input, offset, weight, bias, stride, padding, dilation,
                             mask, border_rule="torchvision") -> DeformConvGeometry:
    """Checks a deform_conv2d call (messages shared with the compiled op) and returns its sizes."""
    op = "deform_conv2d"
    check_mode(op, "border_rule", border_rule, BORDER_RULES)
    require(input.dim() == 4, f"{op}: input must have shape [B, C, H, W]; got {list(input.shape)}")
    require(input.dtype in DEFORM_CONV_DTYPES,
            f"{op}: input must be float32, float64, float16 or bfloat16; got {input.dtype}")
    require(weight.dim() == 4,
            f"{op}: weight must have shape [C_out, C / groups, kh, kw]; got {list(weight.shape)}")
    require(offset.dim() == 4,
            f"{op}: offset must have shape [B, 2 * offset_groups * kh * kw, H_out, W_out]; got "
            f"{list(offset.shape)}")
    for arg, t in (("offset", offset), ("weight", weight), ("bias", bias), ("mask", mask)):
        if t is not None:
            _check_companion(op, arg, t, input)
    (sh, sw), (ph, pw), (dh, dw) = (pair(op, "stride", stride), pair(op, "padding", padding),
                                    pair(op, "dilation", dilation))
    require(sh >= 1 and sw >= 1, f"{op}: stride must be positive; got {[sh, sw]}")
    require(ph >= 0 and pw >= 0, f"{op}: padding must be non-negative; got {[ph, pw]}")
    require(dh >= 1 and dw >= 1, f"{op}: dilation must be positive; got {[dh, dw]}")

    batch, channels, height, width = input.shape
    out_channels, group_channels, kh, kw = weight.shape
    require(channels >= 1 and height >= 1 and width >= 1,
            f"{op}: input must have C, H, W >= 1; got {list(input.shape)}")
    require(out_channels >= 1 and group_channels >= 1 and kh >= 1 and kw >= 1,
            f"{op}: weight must have non-zero sizes; got {list(weight.shape)}")
    require(channels % group_channels == 0,
            f"{op}: input channels ({channels}) must be a multiple of weight.shape[1] "
            f"({group_channels}), the channels per conv group")
    groups = channels // group_channels
    require(out_channels % groups == 0,
            f"{op}: weight.shape[0] ({out_channels}) must be a multiple of the conv groups "
            f"({groups} = input channels / weight.shape[1])")
    out_h = (height + 2 * ph - (dh * (kh - 1) + 1)) // sh + 1
    out_w = (width + 2 * pw - (dw * (kw - 1) + 1)) // sw + 1
    require(out_h >= 1 and out_w >= 1,
            f"{op}: the output would be empty ({out_h} x {out_w}): input {height} x {width}, "
            f"kernel {kh} x {kw}, stride {[sh, sw]}, padding {[ph, pw]}, dilation {[dh, dw]}")

    taps = kh * kw
    offset_channels = offset.shape[1]
    require(offset_channels >= 2 * taps and offset_channels % (2 * taps) == 0,
            f"{op}: offset channels ({offset_channels}) must be a positive multiple of "
            f"2 * kh * kw = {2 * taps}")
    offset_groups = offset_channels // (2 * taps)
    require(channels % offset_groups == 0,
            f"{op}: input channels ({channels}) must be a multiple of the offset groups "
            f"({offset_groups} = offset channels / (2 * kh * kw))")
    expected = [batch, 2 * offset_groups * taps, out_h, out_w]
    require(list(offset.shape) == expected,
            f"{op}: offset must have shape [B, 2 * offset_groups * kh * kw, H_out, W_out] = "
            f"{expected}; got {list(offset.shape)}")
    if mask is not None:
        expected = [batch, offset_groups * taps, out_h, out_w]
        require(mask.dim() == 4 and list(mask.shape) == expected,
                f"{op}: mask must have shape [B, offset_groups * kh * kw, H_out, W_out] = "
                f"{expected}; got {list(mask.shape)}")
    if bias is not None:
        require(list(bias.shape) == [out_channels],
                f"{op}: bias must have shape [C_out] = [{out_channels}]; got {list(bias.shape)}")
    return DeformConvGeometry(groups, offset_groups, out_h, out_w)
