"""Training, evaluation and inference loops of CenterNet (``centernet-fast train`` and friends)."""
