"""Fused CenterNet ops, reachable as ``centernet_fast.ops.<op>`` and ``torch.ops.centernet_fast.<op>``.

``reference`` holds the plain-PyTorch specification of every op; ``original`` the original
CenterNet code paths kept as anchors for tests and benchmarks.
"""

from centernet_fast.ops._extension import extension_available
from centernet_fast.ops.dcn import DCN, ModulatedDeformConv2d
from centernet_fast.ops.decode import ctdet_decode
from centernet_fast.ops.deform_conv import deform_conv2d
from centernet_fast.ops.focal_loss import focal_loss
from centernet_fast.ops.heatmap_targets import CtdetTargets, ctdet_targets, gaussian_radius

__all__ = ["CtdetTargets", "DCN", "ModulatedDeformConv2d", "ctdet_decode", "ctdet_targets",
           "deform_conv2d", "extension_available", "focal_loss", "gaussian_radius"]
