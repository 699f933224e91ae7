"""Stand-in CenterNet models for the evaluation and inference tests: outputs are known exactly,
so that decoded detections can be checked against ground truth and hand computations."""

import torch
import torch.nn.functional as F
from torch import nn

# Heatmap logits for "object here" and "nothing here": sigmoid gives 1.0 and ~2e-9 in float32.
ON, OFF = 20.0, -20.0


class GroundTruthModel(nn.Module):
    """Recognises the images of a test-mode dataset and outputs the maps whose decoding is
    their ground truth: a peak at each box's centre cell, its size in ``wh`` and the sub-cell
    centre in ``reg``. Mirrored images (the flip test) get the mirrored maps, as a perfectly
    flip-equivariant network would. Images it does not know get empty maps. Records its mode
    at every forward in ``modes_seen``."""

    def __init__(self, dataset):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the model a device
        self.frozen = nn.BatchNorm2d(1).eval()  # a submodule the caller keeps in eval mode
        self.samples = [dataset[i] for i in range(len(dataset))]
        self.num_classes = dataset.num_classes
        self.modes_seen = []

    def _maps(self, sample, height, width):
        hm = torch.full((self.num_classes, height, width), OFF)
        wh, reg = torch.zeros(2, height, width), torch.zeros(2, height, width)
        for (x1, y1, x2, y2), label in zip(sample.boxes.tolist(), sample.labels.tolist()):
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            xi, yi = int(cx), int(cy)
            hm[label, yi, xi] = ON
            wh[:, yi, xi] = torch.tensor([x2 - x1, y2 - y1])
            reg[:, yi, xi] = torch.tensor([cx - xi, cy - yi])
        return torch.cat([hm, wh, reg])

    def _image_maps(self, image, height, width):
        for s in self.samples:
            h, w = s.image.shape[1:]
            if torch.equal(image[:, :h, :w], s.image):
                return self._maps(s, height, width)
            if torch.equal(image.flip(-1)[:, :h, :w], s.image):
                return self._maps(s, height, width).flip(-1)
        return torch.cat([torch.full((self.num_classes, height, width), OFF),
                          torch.zeros(4, height, width)])

    def forward(self, images):
        self.modes_seen.append((self.training, self.frozen.training))
        height, width = images.shape[2] // 4, images.shape[3] // 4
        maps = torch.stack([self._image_maps(image, height, width) for image in images])
        c = self.num_classes
        return [{"hm": maps[:, :c], "wh": maps[:, c:c + 2], "reg": maps[:, c + 2:]}]


class PeakModel(nn.Module):
    """The same maps for every image: ``peaks`` is a list of (class, y, x, logit, w, h) cells on
    the output map (input / 4); no ``reg`` head, so centres are at cell + 0.5."""

    def __init__(self, num_classes, peaks, background=OFF):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.num_classes, self.peaks, self.background = num_classes, peaks, background

    def forward(self, images):
        batch, height, width = images.shape[0], images.shape[2] // 4, images.shape[3] // 4
        hm = torch.full((batch, self.num_classes, height, width), self.background)
        wh = torch.zeros(batch, 2, height, width)
        for c, y, x, logit, w, h in self.peaks:
            hm[:, c, y, x] = logit
            wh[:, :, y, x] = torch.tensor([w, h], dtype=torch.float32)
        return [{"hm": hm + self.anchor, "wh": wh}]


class PooledModel(nn.Module):
    """Maps that depend on the image (4 x 4 average pools of its channels), so that a mirrored
    image gives different maps: for checking the flip test by hand. Two stacks: the first is
    junk, detection must use the last."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(3.0))

    def forward(self, images):
        p = F.avg_pool2d(images, 4)
        last = {"hm": self.scale * p[:, :2], "wh": 4 + 2 * p[:, 1:3],
                "reg": torch.sigmoid(p[:, :2])}
        first = {k: torch.zeros_like(v) for k, v in last.items()}
        return [first, last]
