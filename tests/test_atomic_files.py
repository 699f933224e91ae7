"""Atomic file writes: the target is the old file or the whole new one, never half of one."""

import json
import os

import pytest

from centernet_fast.atomic_files import atomic_write, write_json_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(RuntimeError, match="midway"):
        with atomic_write(path, "w") as f:
            f.write('{"a": 2, "b": [')
            raise RuntimeError("killed midway")
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["out.json"]


def test_binary_and_text_writes_and_permissions(tmp_path):
    with atomic_write(tmp_path / "b.bin") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o666 & ~mask


def test_json_refuses_non_finite_numbers_and_bad_modes(tmp_path):
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"ap": float("nan")})
    assert not (tmp_path / "x.json").exists() and not os.listdir(tmp_path)
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "y", "a"):
            pass
