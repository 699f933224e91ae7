"""CenterNet models: backbones with their stride-4 upsampling paths, output heads, the training
loss, ``create_model`` and loading of the original model-zoo checkpoints."""

from centernet_fast.models.centernet_dla import CenterNetDLA
from centernet_fast.models.checkpoint import (CheckpointError, load_original_checkpoint,
                                              save_checkpoint)
from centernet_fast.models.factory import ARCHITECTURES, create_model
from centernet_fast.models.hourglass import CenterNetHourglass
from centernet_fast.models.loss import CenterNetLoss
from centernet_fast.models.resnet import CenterNetResNet

__all__ = ["ARCHITECTURES", "CenterNetDLA", "CenterNetHourglass", "CenterNetLoss",
           "CenterNetResNet", "CheckpointError", "create_model", "load_original_checkpoint",
           "save_checkpoint"]
