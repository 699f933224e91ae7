"""Loading of the compiled op library ``centernet_fast._C``.

A source checkout that was never built still imports: the ops then run their plain-PyTorch
reference, after one warning. ``CENTERNET_FAST_REQUIRE_EXT=1`` turns a missing library into an
ImportError (CI sets it, so a broken build cannot pass as a slow one).
"""

import os
import warnings

import torch  # noqa: F401  (loads libtorch, which _C links against)

REQUIRE_ENV = "CENTERNET_FAST_REQUIRE_EXT"


def _load() -> bool:
    try:
        from centernet_fast import _C  # noqa: F401  (import runs the TORCH_LIBRARY registrations)
    except ImportError as exc:
        if os.environ.get(REQUIRE_ENV, "0") == "1":
            raise ImportError(
                f"centernet_fast._C could not be imported and {REQUIRE_ENV}=1 requires it: {exc}. "
                "Build it with `pip install --no-build-isolation -e .`."
            ) from exc
        warnings.warn(
            f"centernet_fast._C could not be imported ({exc}); centernet_fast.ops falls back to "
            "the slow plain-PyTorch reference. Build the extension with "
            "`pip install --no-build-isolation -e .`.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    return True


_AVAILABLE = _load()


def extension_available() -> bool:
    """True when the compiled ops are loaded; False when the reference fallback is in use."""
    return _AVAILABLE
