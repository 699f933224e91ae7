"""Random inputs for the tests: padded batches of boxes, and decode heads (heat, wh, reg)."""

import torch


def random_batch(generator, batch, num_boxes, num_classes, height, width, pad_fraction=0.2,
                 margin=0.25):
    """Random float32 boxes [B, N, 4] and int64 labels [B, N] on an H x W map.

    Box corners are drawn in [-margin*size, (1+margin)*size] so that some boxes cross or leave the
    border; about ``pad_fraction`` of the labels are -1 (padding).
    """
    scale = torch.tensor([width, height], dtype=torch.float32)
    lo = -margin * scale
    p1 = lo + torch.rand(batch, num_boxes, 2, generator=generator) * scale * (1 + 2 * margin)
    size = torch.rand(batch, num_boxes, 2, generator=generator) ** 2 * scale * 0.6
    boxes = torch.cat([p1, p1 + size], dim=-1)
    labels = torch.randint(0, num_classes, (batch, num_boxes), generator=generator)
    pad = torch.rand(batch, num_boxes, generator=generator) < pad_fraction
    return boxes, labels.masked_fill(pad, -1)


def distinct_heat(generator, batch, classes, height, width):
    """float32 probabilities in (0, 1), all distinct: no ties anywhere."""
    n = batch * classes * height * width
    values = (torch.randperm(n, generator=generator).float() + 1) / (n + 1)
    return values.view(batch, classes, height, width)


def box_maps(generator, batch, channels, height, width):
    """wh in [0, 40) and reg in [0, 1), float32."""
    wh = torch.rand(batch, channels, height, width, generator=generator) * 40
    reg = torch.rand(batch, 2, height, width, generator=generator)
    return wh, reg
