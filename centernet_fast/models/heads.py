"""CenterNet output heads: one small convolutional branch per predicted map.

Every architecture ends in the same head shape: ``3 x 3 conv (bias) -> ReLU -> 1 x 1 conv (bias)``
from the backbone's stride-4 features to the head's channels (``hm``: one per class, ``wh``: 2,
``reg``: 2, ...). The heads are attributes of the model named after the map (``model.hm``), so
the state_dict keys are ``hm.0.weight``, ``hm.2.bias``, ... as in the original checkpoints.

Initialisation follows the original per architecture: every head whose name contains ``hm``
(``hm``, ``hm_hp``) starts its last bias at -2.19, so sigmoid(bias) ~= 0.1, the foreground prior
that keeps the focal loss from being swamped by the background at the first steps. The other
heads differ by architecture, hence ``regression_init``.
"""

from typing import Dict, Literal

import torch
from torch import nn

HEATMAP_BIAS = -2.19

RegressionInit = Literal["zero_bias", "normal", "default"]


def make_head(in_channels: int, head_conv: int, out_channels: int) -> nn.Module:
    """``Conv2d(in, head_conv, 3, padding=1) -> ReLU -> Conv2d(head_conv, out, 1)``; keys
    ``0.*`` and ``2.*``. ``head_conv <= 0`` gives the original's bare 1 x 1 conv instead (keys
    ``weight`` and ``bias``, as the original registers it)."""
    if head_conv <= 0:
        return nn.Conv2d(in_channels, out_channels, 1)
    return nn.Sequential(nn.Conv2d(in_channels, head_conv, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(head_conv, out_channels, 1))


def init_head(name: str, head: nn.Module, regression_init: RegressionInit) -> None:
    """Initialises ``head`` (any module whose last Conv2d produces the map) as the original does.

    Heatmap heads (``"hm" in name``): the last conv's bias is set to -2.19; weights keep their
    default initialisation. Other heads, by ``regression_init``:
        ``"zero_bias"``: every conv bias 0, weights default (DLA-34).
        ``"normal"``: every conv weight N(0, 0.001^2), bias 0 (ResNet and ResNet-DCN).
        ``"default"``: PyTorch's default initialisation (Hourglass).
    """
    convs = [m for m in head.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"init_head: head {name!r} has no Conv2d")
    with torch.no_grad():
        if "hm" in name:
            convs[-1].bias.fill_(HEATMAP_BIAS)
            return
        if regression_init == "default":
            return
        if regression_init not in ("zero_bias", "normal"):
            raise ValueError(f"init_head: regression_init must be 'zero_bias', 'normal' or "
                             f"'default', got {regression_init!r}")
        for conv in convs:
            if regression_init == "normal":
                nn.init.normal_(conv.weight, std=0.001)
            if conv.bias is not None:
                conv.bias.zero_()


def check_heads(heads: Dict[str, int]) -> Dict[str, int]:
    """Validates a ``{name: channels}`` mapping and returns it as a plain dict (order kept)."""
    if not isinstance(heads, dict) or not heads:
        raise ValueError(f"heads must be a non-empty dict like {{'hm': 80, 'wh': 2, 'reg': 2}}, "
                         f"got {heads!r}")
    for name, channels in heads.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"heads: names must be identifiers, got {name!r}")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels <= 0:
            raise ValueError(f"heads[{name!r}] must be a positive int (output channels), "
                             f"got {channels!r}")
    return dict(heads)


def attach_head(model: nn.Module, name: str, head: nn.Module, owner: str) -> None:
    """Registers ``head`` as ``model.<name>`` (the state_dict prefix the original checkpoints
    use); a name that would replace one of the model's own layers or attributes raises
    ``ValueError`` naming ``owner`` (the builder)."""
    if hasattr(model, name):
        raise ValueError(f"{owner}: head name {name!r} clashes with a layer or attribute of the "
                         "model; rename the head")
    setattr(model, name, head)


def apply_heads(model: nn.Module, heads: Dict[str, int], features: torch.Tensor
                ) -> Dict[str, torch.Tensor]:
    """Runs every head of ``model`` (attributes named as the keys of ``heads``) on
    ``features`` [B, C, H/4, W/4]; returns ``{name: [B, heads[name], H/4, W/4]}``."""
    return {name: getattr(model, name)(features) for name in heads}
