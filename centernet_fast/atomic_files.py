"""Files written atomically: the whole new file or the old one, never a half-written file.

Every writer goes through :func:`atomic_write`: the content goes to a unique temporary sibling
(same file system, so the final rename is atomic; opened with O_EXCL, so two writers never share
it; created with the usual umask permissions, unlike mkstemp's owner-only ones), is flushed and
fsynced, then moved over the target with ``os.replace``. A failure at any point removes the
temporary file and leaves the target untouched.
"""

import json
import os
import uuid
from contextlib import contextmanager
from typing import IO, Any, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]


@contextmanager
def atomic_write(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """``with atomic_write(path, "w") as f: ...`` writes ``path`` atomically (see the module
    docstring). ``mode`` is ``"wb"`` or ``"w"`` (UTF-8 text)."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, mode.replace("w", "x"), **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: PathLike, data: Any, indent: Optional[int] = None) -> None:
    """Writes ``data`` as JSON (plus a newline) to ``path`` atomically. Non-finite floats are
    refused (``ValueError``): they are not JSON."""
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=indent, allow_nan=False)
        f.write("\n")
