"""The original CenterNet code paths users run today, kept as benchmark anchors and oracles.

Targets: CenterNet draws them per image inside data-loader workers, one object at a time, in
numpy, and the DataLoader's collate stacks them into batch tensors. ``ctdet_targets_batch``
reproduces that whole path for a padded batch. It is the benchmark anchor for ``ctdet_targets``
and, being written independently of ``reference.py``, a second oracle for the tests. Only the
original radius mode exists here.

Decoding: ``ctdet_decode`` is CenterNet's ``src/lib/models/decode.py`` path (``_nms``, ``_topk``,
``_transpose_and_gather_feat``), the anchor for ``ops.ctdet_decode``.

Loss: ``focal_loss`` is the original ``_sigmoid`` + ``_neg_loss`` in PyTorch, the anchor for
``ops.focal_loss``.
"""

import math

import numpy as np
import torch
import torch.nn as nn


def gaussian_radius(det_size, min_overlap=0.7):
    """CornerNet's radius as CenterNet writes it, on Python numbers (float64)."""
    height, width = det_size
    a1 = 1
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * a1 * c1)) / 2
    a2 = 4
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2 ** 2 - 4 * a2 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def gaussian_2d(diameter, sigma):
    """float64 [diameter, diameter] Gaussian; values below eps * max set to 0."""
    half = (diameter - 1.0) / 2.0
    y, x = np.ogrid[-half:half + 1, -half:half + 1]
    g = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g


def draw_umich_gaussian(heatmap, center, radius):
    """Max-draws a Gaussian of the given integer radius at integer ``center`` (x, y) in place."""
    diameter = 2 * radius + 1
    gaussian = gaussian_2d(diameter, sigma=diameter / 6)
    x, y = int(center[0]), int(center[1])
    height, width = heatmap.shape[0:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    region = heatmap[y - top:y + bottom, x - left:x + right]
    window = gaussian[radius - top:radius + bottom, radius - left:radius + right]
    if min(window.shape) > 0 and min(region.shape) > 0:
        np.maximum(region, window, out=region)
    return heatmap


def ctdet_targets_image(boxes, labels, num_classes, output_size, max_objs=128):
    """Targets of one image as the original ``CTDetDataset.__getitem__`` builds them.

    boxes: float32 [N, 4] in output coordinates; labels: int [N] (entries < 0 are skipped).
    Returns numpy (hm [C, H, W], wh [max_objs, 2], reg [max_objs, 2], ind [max_objs],
    reg_mask [max_objs]).
    """
    output_h, output_w = output_size
    hm = np.zeros((num_classes, output_h, output_w), dtype=np.float32)
    wh = np.zeros((max_objs, 2), dtype=np.float32)
    reg = np.zeros((max_objs, 2), dtype=np.float32)
    ind = np.zeros((max_objs,), dtype=np.int64)
    reg_mask = np.zeros((max_objs,), dtype=np.uint8)
    for k in range(min(len(boxes), max_objs)):
        if labels[k] < 0:
            continue
        bbox = np.array(boxes[k], dtype=np.float32)
        bbox[[0, 2]] = np.clip(bbox[[0, 2]], 0, output_w - 1)
        bbox[[1, 3]] = np.clip(bbox[[1, 3]], 0, output_h - 1)
        h, w = bbox[3] - bbox[1], bbox[2] - bbox[0]
        if h > 0 and w > 0:
            radius = max(0, int(gaussian_radius((math.ceil(h), math.ceil(w)))))
            ct = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2], dtype=np.float32)
            ct_int = ct.astype(np.int32)
            draw_umich_gaussian(hm[labels[k]], ct_int, radius)
            wh[k] = 1.0 * w, 1.0 * h
            ind[k] = ct_int[1] * output_w + ct_int[0]
            reg[k] = ct - ct_int
            reg_mask[k] = 1
    return hm, wh, reg, ind, reg_mask


def ctdet_targets_batch(boxes, labels, num_classes, output_size, max_objs=128):
    """The per-image numpy loop plus the collate step: torch batch tensors like ``ctdet_targets``.

    boxes: float32 [B, N, 4], labels: int64 [B, N] (numpy arrays or CPU tensors).
    """
    boxes, labels = np.asarray(boxes), np.asarray(labels)
    per_image = [ctdet_targets_image(boxes[b], labels[b], num_classes, output_size, max_objs)
                 for b in range(len(boxes))]
    return tuple(torch.stack([torch.from_numpy(t[i]) for t in per_image]) for i in range(5))


def _sigmoid(x):
    """CenterNet's ``_sigmoid`` (src/lib/models/utils.py), out of place."""
    return torch.clamp(x.sigmoid(), min=1e-4, max=1 - 1e-4)


def _neg_loss(pred, gt):
    """CenterNet's ``_neg_loss`` (src/lib/models/losses.py), as written: pred [B, C, H, W]
    clamped probabilities, gt the same shape."""
    pos_inds = gt.eq(1).float()
    neg_inds = gt.lt(1).float()
    neg_weights = torch.pow(1 - gt, 4)
    loss = 0
    pos_loss = torch.log(pred) * torch.pow(1 - pred, 2) * pos_inds
    neg_loss = torch.log(1 - pred) * torch.pow(pred, 2) * neg_weights * neg_inds
    num_pos = pos_inds.float().sum()
    pos_loss = pos_loss.sum()
    neg_loss = neg_loss.sum()
    if num_pos == 0:
        loss = loss - neg_loss
    else:
        loss = loss - (pos_loss + neg_loss) / num_pos
    return loss


def focal_loss(logits, target):
    """The original training path: ``FocalLoss()(_sigmoid(output['hm']), batch['hm'])``."""
    return _neg_loss(_sigmoid(logits), target)


def _nms(heat, kernel=3):
    pad = (kernel - 1) // 2
    hmax = nn.functional.max_pool2d(heat, (kernel, kernel), stride=1, padding=pad)
    keep = (hmax == heat).float()
    return heat * keep


def _gather_feat(feat, ind):
    dim = feat.size(2)
    ind = ind.unsqueeze(2).expand(ind.size(0), ind.size(1), dim)
    return feat.gather(1, ind)


def _transpose_and_gather_feat(feat, ind):
    feat = feat.permute(0, 2, 3, 1).contiguous()
    feat = feat.view(feat.size(0), -1, feat.size(3))
    return _gather_feat(feat, ind)


def _topk(scores, K=40):
    # The index arithmetic is the original's: on current PyTorch `/` is true division, which the
    # `.int()` truncation turns back into the integer quotient for maps of usual sizes.
    batch, cat, height, width = scores.size()
    topk_scores, topk_inds = torch.topk(scores.view(batch, cat, -1), K)
    topk_inds = topk_inds % (height * width)
    topk_ys = (topk_inds / width).int().float()
    topk_xs = (topk_inds % width).int().float()
    topk_score, topk_ind = torch.topk(topk_scores.view(batch, -1), K)
    topk_clses = (topk_ind / K).int()
    topk_inds = _gather_feat(topk_inds.view(batch, -1, 1), topk_ind).view(batch, K)
    topk_ys = _gather_feat(topk_ys.view(batch, -1, 1), topk_ind).view(batch, K)
    topk_xs = _gather_feat(topk_xs.view(batch, -1, 1), topk_ind).view(batch, K)
    return topk_score, topk_inds, topk_clses, topk_ys, topk_xs


def ctdet_decode(heat, wh, reg=None, cat_spec_wh=False, K=100):
    """CenterNet's ``ctdet_decode`` as written: 3x3 max-pool NMS, per-class top-K, then the
    global top-K, then gathers of the regression maps. ``heat`` holds probabilities (CenterNet
    applies sigmoid to the whole map first). Returns [B, K, 6] (x1, y1, x2, y2, score, class).
    Requires K <= H*W; the order of equal scores is whatever torch.topk returns.
    """
    batch, cat, height, width = heat.size()
    heat = _nms(heat)
    scores, inds, clses, ys, xs = _topk(heat, K=K)
    if reg is not None:
        reg = _transpose_and_gather_feat(reg, inds)
        reg = reg.view(batch, K, 2)
        xs = xs.view(batch, K, 1) + reg[:, :, 0:1]
        ys = ys.view(batch, K, 1) + reg[:, :, 1:2]
    else:
        xs = xs.view(batch, K, 1) + 0.5
        ys = ys.view(batch, K, 1) + 0.5
    wh = _transpose_and_gather_feat(wh, inds)
    if cat_spec_wh:
        wh = wh.view(batch, K, cat, 2)
        clses_ind = clses.view(batch, K, 1, 1).expand(batch, K, 1, 2).long()
        wh = wh.gather(2, clses_ind).view(batch, K, 2)
    else:
        wh = wh.view(batch, K, 2)
    clses = clses.view(batch, K, 1).float()
    scores = scores.view(batch, K, 1)
    bboxes = torch.cat([xs - wh[..., 0:1] / 2,
                        ys - wh[..., 1:2] / 2,
                        xs + wh[..., 0:1] / 2,
                        ys + wh[..., 1:2] / 2], dim=2)
    return torch.cat([bboxes, scores, clses], dim=2)
