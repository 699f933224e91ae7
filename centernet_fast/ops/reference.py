"""Plain-PyTorch implementations of the centernet_fast ops: the executable specification.

Tests compare the compiled kernels with these functions, benchmarks use them as the eager
baseline, and ``centernet_fast.ops`` falls back to them when the extension is not built. They are
written for clarity, following the original CenterNet code step by step, not for speed.
"""

import math

import torch
import torch.nn.functional as F

from centernet_fast.ops._checks import (check_ctdet_decode_args, check_ctdet_targets_args,
                                        check_deform_conv2d_args, check_focal_loss_args,
                                        check_gaussian_radius_args, pair)

ELLIPTICAL_ALPHA = 0.54  # TTFNet's alpha


def radius_of_size(height: float, width: float, min_overlap: float, corrected: bool) -> float:
    """The radius of one box on Python floats (IEEE float64; ``math.sqrt`` is correctly rounded,
    while torch's vectorised float64 sqrt may differ by an ulp and truncate wrongly)."""
    a1 = 1
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    sq1 = math.sqrt(b1 ** 2 - 4 * a1 * c1)
    r1 = (b1 - sq1) / (2 * a1) if corrected else (b1 + sq1) / 2

    a2 = 4
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    sq2 = math.sqrt(b2 ** 2 - 4 * a2 * c2)
    r2 = (b2 - sq2) / (2 * a2) if corrected else (b2 + sq2) / 2

    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    sq3 = math.sqrt(b3 ** 2 - 4 * a3 * c3)
    r3 = (b3 + sq3) / (2 * a3) if corrected else (b3 + sq3) / 2
    return min(r1, r2, r3)


def gaussian_radius(height: torch.Tensor, width: torch.Tensor, min_overlap: float = 0.7,
                    mode: str = "centernet") -> torch.Tensor:
    """Elementwise Gaussian radius of boxes of the given sizes, float64 (same shape as inputs).

    ``mode="centernet"``: CornerNet's three-case formula exactly as CenterNet writes it (the larger
    roots and the missing 2a divisors included), in the original order of operations, in float64.
    ``mode="corrected"``: the corrected derivation (mmdetection's ``gaussian_radius``).
    """
    check_gaussian_radius_args(height, width, min_overlap, mode)
    sizes = zip(height.double().flatten().tolist(), width.double().flatten().tolist())
    radii = [radius_of_size(h, w, min_overlap, mode == "corrected") for h, w in sizes]
    return torch.tensor(radii, dtype=torch.float64, device=height.device).view(height.shape)


def gaussian_2d(radius_y: int, radius_x: int, elliptical: bool) -> torch.Tensor:
    """The float64 Gaussian window [2*ry+1, 2*rx+1] on the CPU, sigma = diameter / 6 per axis.

    Circular windows use the original expression exp(-(x*x + y*y) / (2*sigma*sigma)); elliptical
    ones TTFNet's exp(-(x*x / (2*sx*sx) + y*y / (2*sy*sy))). Values below float64 eps times the
    peak are set to 0, as the original does.
    """
    y = torch.arange(-radius_y, radius_y + 1, dtype=torch.float64).view(-1, 1)
    x = torch.arange(-radius_x, radius_x + 1, dtype=torch.float64).view(1, -1)
    sigma_x, sigma_y = (2 * radius_x + 1) / 6, (2 * radius_y + 1) / 6
    if elliptical:
        g = torch.exp(-(x * x / (2 * sigma_x * sigma_x) + y * y / (2 * sigma_y * sigma_y)))
    else:
        g = torch.exp(-(x * x + y * y) / (2 * sigma_x * sigma_x))
    g[g < torch.finfo(torch.float64).eps * g.max()] = 0
    return g


def draw_gaussian(plane: torch.Tensor, cx: int, cy: int, radius_y: int, radius_x: int,
                  elliptical: bool) -> None:
    """Elementwise max of the Gaussian centred at (cx, cy) into ``plane`` [H, W] float32, clipped
    at the borders."""
    height, width = plane.shape
    left, right = min(cx, radius_x), min(width - cx, radius_x + 1)
    top, bottom = min(cy, radius_y), min(height - cy, radius_y + 1)
    # Built on the CPU even for a GPU plane: a GPU's float64 exp and division may round differently.
    g = gaussian_2d(radius_y, radius_x, elliptical)
    window = g[radius_y - top:radius_y + bottom, radius_x - left:radius_x + right]
    region = plane[cy - top:cy + bottom, cx - left:cx + right]
    torch.maximum(region, window.float().to(plane.device), out=region)


def object_radii(h: float, w: float, min_overlap: float, radius_mode: str):
    """(radius_y, radius_x) in pixels of an object of clipped size h x w (float32 values)."""
    if radius_mode == "elliptical":
        return (max(0, int(h / 2.0 * ELLIPTICAL_ALPHA)), max(0, int(w / 2.0 * ELLIPTICAL_ALPHA)))
    r = max(0, int(radius_of_size(math.ceil(h), math.ceil(w), min_overlap,
                                  radius_mode == "corrected")))
    return r, r


def ctdet_targets(boxes: torch.Tensor, labels: torch.Tensor, num_classes: int, output_size,
                  max_objs: int = 128, min_overlap: float = 0.7, radius_mode: str = "centernet"):
    """CenterNet detection targets for a padded batch, one object at a time.

    Args:
        boxes: float32 [B, N, 4] (x1, y1, x2, y2) in output-map coordinates.
        labels: int64 [B, N] class ids, -1 for padding.
        output_size: (H, W) of the output map.
    Returns:
        (hm float32 [B, C, H, W], wh float32 [B, max_objs, 2] as (w, h), reg float32
        [B, max_objs, 2] as (dx, dy), ind int64 [B, max_objs] = y*W + x, reg_mask uint8
        [B, max_objs]) on the boxes' device. Object k of image b uses slot k; objects beyond
        max_objs are dropped; padding, non-finite boxes and boxes empty after clipping leave their
        slot zero.
    """
    check_ctdet_targets_args(boxes, labels, num_classes, output_size, max_objs, min_overlap,
                             radius_mode)
    height, width = (int(s) for s in output_size)
    batch, num_boxes = labels.shape
    device = boxes.device
    hm = torch.zeros(batch, num_classes, height, width, dtype=torch.float32, device=device)
    wh = torch.zeros(batch, max_objs, 2, dtype=torch.float32, device=device)
    reg = torch.zeros(batch, max_objs, 2, dtype=torch.float32, device=device)
    ind = torch.zeros(batch, max_objs, dtype=torch.int64, device=device)
    reg_mask = torch.zeros(batch, max_objs, dtype=torch.uint8, device=device)
    # Box arithmetic stays in float32 (0-d tensors), as in the original float32 numpy code.
    limits = torch.tensor([width - 1, height - 1] * 2, dtype=torch.float32)
    boxes_host, labels_host = boxes.detach().cpu(), labels.cpu()
    for b in range(batch):
        for k in range(min(num_boxes, max_objs)):
            label, box = int(labels_host[b, k]), boxes_host[b, k]
            if label < 0 or not bool(torch.isfinite(box).all()):
                continue
            box = torch.minimum(box.clamp(min=0), limits)
            h, w = box[3] - box[1], box[2] - box[0]
            if not (h > 0 and w > 0):
                continue
            radius_y, radius_x = object_radii(float(h), float(w), min_overlap, radius_mode)
            ct = (box[:2] + box[2:]) / 2
            ct_int = ct.to(torch.int32)
            cx, cy = int(ct_int[0]), int(ct_int[1])
            draw_gaussian(hm[b, label], cx, cy, radius_y, radius_x, radius_mode == "elliptical")
            wh[b, k] = torch.stack([w, h])
            reg[b, k] = ct - ct_int
            ind[b, k] = cy * width + cx
            reg_mask[b, k] = 1
    return hm, wh, reg, ind, reg_mask


# The clamp of the original ``_sigmoid``: probabilities are kept in [1e-4, 1 - 1e-4].
FOCAL_CLAMP = (1e-4, 1 - 1e-4)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0,
               clamp: bool = True) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss of CornerNet/CenterNet on raw logits.

    Args:
        logits: [...] float32/float16/bfloat16/float64 head output before the sigmoid.
        target: the same shape, float32 or the logits' dtype: 1 at object centres, Gaussian
            values in [0, 1) elsewhere.
    Returns:
        float32 scalar (float64 for float64 logits) -(pos + neg) / max(num_pos, 1), computed in
        float32 (float64). With p = sigmoid(logits), clamped to [1e-4, 1 - 1e-4] when ``clamp``:
        pos = sum over target == 1 of log(p) (1-p)^alpha; neg = sum over target < 1 of
        log(1-p) p^alpha (1-target)^beta. Pixels with target > 1 are ignored; a NaN target or
        logit makes the loss NaN. ``clamp=False`` uses log-sigmoid, no clamp.
    """
    check_focal_loss_args(logits, target, alpha, beta)
    dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
    x, t = logits.to(dtype), target.to(dtype)
    if clamp:
        p = torch.clamp(torch.sigmoid(x), min=FOCAL_CLAMP[0], max=FOCAL_CLAMP[1])
        one_minus_p = 1 - p
        log_p, log_one_minus_p = torch.log(p), torch.log(one_minus_p)
    else:
        p, one_minus_p = torch.sigmoid(x), torch.sigmoid(-x)
        log_p, log_one_minus_p = F.logsigmoid(x), F.logsigmoid(-x)
    pos = t == 1
    weight = torch.where(pos, 1.0, (1 - t).pow(beta))
    term = torch.where(pos, log_p * one_minus_p.pow(alpha), log_one_minus_p * p.pow(alpha))
    term = torch.where(t > 1, 0.0, weight * term)
    num_pos = pos.sum()
    return 0 - term.sum() / num_pos.clamp(min=1).to(dtype)  # 0 - x: +0 for an empty input


def ctdet_decode(heat: torch.Tensor, wh: torch.Tensor, reg=None, K: int = 100,
                 cat_spec_wh: bool = False, logits: bool = False, threshold=None) -> torch.Tensor:
    """The K best peaks of each image's heatmap as boxes: float32 [B, K, 6] rows
    (x1, y1, x2, y2, score, class) in output-map units.

    Args:
        heat: [B, C, H, W] float32/float16/bfloat16 class probabilities (logits if ``logits``).
        wh: [B, 2, H, W] box sizes (w, h), or [B, 2C, H, W] with ``cat_spec_wh`` (channels 2c,
            2c+1 for class c); any float dtype, read as float32.
        reg: [B, 2, H, W] sub-pixel centre offsets (dx, dy), or None for centres at +0.5.
        K: rows per image, >= 1.
        threshold: rows whose score is below it (compared in float32) get class -1.

    A cell is a peak where heat equals the maximum of its 3x3 window (max_pool2d with padding:
    out-of-map neighbours ignored, plateaus keep every cell, a NaN in the window means no peak);
    peaks are found on heat as given. Its score is heat, or float32(sigmoid(float64 heat)) with
    ``logits``; every other cell scores 0 (-0.0 becomes 0.0). The K best scores over all
    C*H*W cells are taken by score descending, ties by lower flat index c*H*W + y*W + x (a stable
    sort). Rows past C*H*W are zero with class -1.
    """
    check_ctdet_decode_args(heat, wh, reg, K, cat_spec_wh)
    batch, classes, height, width = heat.shape
    plane, cells = height * width, classes * height * width
    heat = heat.float()  # exact for float16 and bfloat16

    peak = F.max_pool2d(heat, 3, stride=1, padding=1) == heat
    values, peak = heat.reshape(batch, cells), peak.reshape(batch, cells)
    peak_scores = values[peak]
    if logits:
        peak_scores = torch.sigmoid(peak_scores.double()).float()  # peak candidates only
    scores = torch.zeros_like(values)
    scores[peak] = peak_scores
    scores = scores + 0.0  # -0.0 -> 0.0

    selected = min(K, cells)
    scores, index = torch.sort(scores, dim=1, descending=True, stable=True)
    scores, index = scores[:, :selected], index[:, :selected]
    cls, pixel = index // plane, index % plane
    ys, xs = (pixel // width).float(), (pixel % width).float()

    def gather(maps, channel):  # maps[b, channel[b, k], pixel[b, k]] as float32
        return maps.float().reshape(batch, maps.shape[1] * plane).gather(1, channel * plane + pixel)

    zero = torch.zeros_like(index)
    if reg is not None:
        xs, ys = xs + gather(reg, zero), ys + gather(reg, zero + 1)
    else:
        xs, ys = xs + 0.5, ys + 0.5
    wh_channel = 2 * cls if cat_spec_wh else zero
    w, h = gather(wh, wh_channel), gather(wh, wh_channel + 1)
    labels = cls.float()
    if threshold is not None:
        labels = torch.where(scores < torch.tensor(threshold, dtype=torch.float32), -1.0, labels)
    rows = torch.stack([xs - w / 2, ys - h / 2, xs + w / 2, ys + h / 2, scores, labels], dim=2)

    out = torch.zeros(batch, K, 6, dtype=torch.float32, device=heat.device)
    out[:, :, 5] = -1.0
    out[:, :selected] = rows
    return out


def deform_sample(input: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of ``input`` at fractional positions, zero outside the image.

    Args:
        input: [B, G, Cg, H, W] (G deformable groups of Cg channels each).
        y, x: [B, G, P] row and column positions (P sampling points per group).
    Returns:
        [B, G, Cg, P]: sum over the four neighbours (floor(y) + {0, 1}, floor(x) + {0, 1}) of
        the bilinear weight times the pixel, where neighbours outside the image count as zero.
        A point with y <= -1, y >= H, x <= -1 or x >= W thus samples 0, as in torchvision (whose
        explicit region test agrees with this one everywhere except exactly on y = -1 or x = -1,
        where both give 0 and torchvision's offset gradient is the one-sided one used here).
        The weights are differentiable in y and x (floor has a zero gradient).
    """
    batch, groups, group_channels, height, width = input.shape
    flat = input.reshape(batch, groups, group_channels, height * width)
    y0, x0 = torch.floor(y), torch.floor(x)
    ly, lx = y - y0, x - x0
    y0, x0 = y0.long(), x0.long()
    out = None
    for dy, wy in ((0, 1 - ly), (1, ly)):
        for dx, wx in ((0, 1 - lx), (1, lx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
            index = (yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1))
            index = index.unsqueeze(2).expand(batch, groups, group_channels, index.shape[-1])
            term = flat.gather(3, index) * (wy * wx * inside).unsqueeze(2)
            out = term if out is None else out + term
    return out


def deform_conv2d(input: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                  bias=None, stride=1, padding=0, dilation=1, mask=None,
                  border_rule="torchvision") -> torch.Tensor:
    """Modulated deformable convolution (DCNv2) with the semantics of
    ``torchvision.ops.deform_conv2d``.

    Args:
        input: [B, C, H, W] float32, float64, float16 or bfloat16.
        offset: [B, 2 * dg * kh * kw, H_out, W_out], the input's dtype: for deformable group g and
            kernel tap t = i * kw + j, channel 2 * (g * kh * kw + t) is the row offset dy and the
            next channel the column offset dx.
        weight: [C_out, C / groups, kh, kw]; the conv groups are C / weight.shape[1].
        bias: [C_out] or None.
        stride, padding, dilation: ints or (h, w) pairs.
        mask: [B, dg * kh * kw, H_out, W_out] modulation (channel g * kh * kw + t), or None for 1.
        border_rule: the offset gradient of a sampling point (y, x) outside the open region
            (-1, H) x (-1, W). "torchvision": the derivative of the bilinear formula, which is
            one-sided and non-zero exactly on y = -1 or x = -1 (elsewhere there every neighbour
            is outside and it is 0). "dcnv2": 0 there, as the original DCNv2 and mmcv. The
            output and the other gradients are the same under both.
    Returns:
        [B, C_out, H_out, W_out] in the input's dtype (computed in float32 for float16 and
        bfloat16): out[b, o, p, q] = bias[o] + sum over the channels c of o's conv group and the
        taps (i, j) of weight[o, c, i, j] * mask * bilinear(input[b, c], y, x) with
        y = p * stride_h - padding_h + i * dilation_h + dy, x likewise, the offsets and mask
        being those of c's deformable group (channel c is in group c // (C / dg)).

    Written with gathers and an einsum, differentiable by autograd in every tensor argument.
    """
    geometry = check_deform_conv2d_args(input, offset, weight, bias, stride, padding, dilation,
                                        mask, border_rule)
    groups, offset_groups, out_h, out_w = geometry
    (sh, sw), (ph, pw), (dh, dw) = (pair("deform_conv2d", "stride", stride),
                                    pair("deform_conv2d", "padding", padding),
                                    pair("deform_conv2d", "dilation", dilation))
    dtype = input.dtype
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    batch, channels, height, width = input.shape
    out_channels, _, kh, kw = weight.shape
    taps = kh * kw
    device = input.device

    # Sampling positions [B, dg, taps, H_out, W_out].
    off = offset.to(compute).reshape(batch, offset_groups, taps, 2, out_h, out_w)
    tap_i = torch.arange(kh, device=device).repeat_interleave(kw)
    tap_j = torch.arange(kw, device=device).repeat(kh)
    rows = torch.arange(out_h, device=device) * sh - ph
    cols = torch.arange(out_w, device=device) * sw - pw
    base_y = (rows.view(1, out_h, 1) + (tap_i * dh).view(taps, 1, 1)).to(compute)
    base_x = (cols.view(1, 1, out_w) + (tap_j * dw).view(taps, 1, 1)).to(compute)
    y = base_y + off[:, :, :, 0]
    x = base_x + off[:, :, :, 1]
    if border_rule == "dcnv2":
        # The rule itself: positions outside the open region carry no gradient to the offsets.
        inside = (y > -1) & (y < height) & (x > -1) & (x < width)
        y = torch.where(inside, y, y.detach())
        x = torch.where(inside, x, x.detach())

    grouped = input.to(compute).reshape(batch, offset_groups, channels // offset_groups, height,
                                        width)
    points = taps * out_h * out_w
    sampled = deform_sample(grouped, y.reshape(batch, offset_groups, points),
                            x.reshape(batch, offset_groups, points))
    if mask is not None:
        sampled = sampled * mask.to(compute).reshape(batch, offset_groups, 1, points)

    # Columns [B, groups, (C / groups) * taps, H_out * W_out], rows ordered (channel, tap) as the
    # weight's last three dimensions.
    columns = sampled.reshape(batch, groups, (channels // groups) * taps, out_h * out_w)
    w = weight.to(compute).reshape(groups, out_channels // groups, (channels // groups) * taps)
    out = torch.einsum("gok,bgkl->bgol", w, columns).reshape(batch, out_channels, out_h, out_w)
    if bias is not None:
        out = out + bias.to(compute).view(1, out_channels, 1, 1)
    return out.to(dtype)
