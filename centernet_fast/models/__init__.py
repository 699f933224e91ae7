"""CenterNet models: backbones with their stride-4 upsampling paths, output heads, the training
loss, ``create_model`` and loading of the original model-zoo checkpoints."""
