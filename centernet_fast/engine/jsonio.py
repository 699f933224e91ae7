"""Writing result files atomically."""

import json
import os
import uuid
from typing import Any, Optional, Union


def write_json_atomic(path: Union[str, os.PathLike], data: Any,
                      indent: Optional[int] = None) -> None:
    """Writes ``data`` as JSON to ``path`` through a unique temporary sibling and ``os.replace``,
    so a reader (or a run killed midway) sees the old file or the whole new one, never half.
    Non-finite floats are refused (``ValueError``): they are not JSON."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "x", encoding="utf-8") as f:
            json.dump(data, f, indent=indent, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
