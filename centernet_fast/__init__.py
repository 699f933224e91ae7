"""centernet_fast: CenterNet ("Objects as Points") with fused CPU/CUDA ops.

Importing the package loads the compiled op library if it was built; see
``centernet_fast.ops.extension_available()``.
"""

__version__ = "0.1.0"

from centernet_fast import ops  # noqa: E402,F401  (registers the ops and their fake kernels)
