"""Random padded batches of boxes for the tests."""

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
