"""The original CenterNet parameter manifests (tests/data/centernet_original/*.json) and the
comparison of a model against one."""

import json
from pathlib import Path
from typing import Dict, List

from torch import nn

MANIFESTS = Path(__file__).parent / "data" / "centernet_original"


def load_manifest(name: str) -> dict:
    """The manifest ``name`` (file stem, e.g. ``"ctdet_dla_34"``) as a dict."""
    return json.loads((MANIFESTS / f"{name}.json").read_text())


def manifest_names() -> List[str]:
    return sorted(p.stem for p in MANIFESTS.glob("*.json"))


def expected_state(manifest: dict) -> Dict[str, List[int]]:
    """{key: shape} of the original state_dict without the keys unused in forward (base.fc)."""
    unused = set(manifest["unused_in_forward_param_keys"])
    return {e["key"]: e["shape"] for e in manifest["state_dict"] if e["key"] not in unused}


def assert_matches_manifest(model: nn.Module, manifest: dict) -> None:
    """Same state_dict keys in the same order, same shapes, same parameter count as the original
    (the original's unused keys excepted)."""
    expected = expected_state(manifest)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    assert not missing and not unexpected, f"missing {missing[:10]}, unexpected {unexpected[:10]}"
    wrong = {k: (got[k], s) for k, s in expected.items() if got[k] != s}
    assert not wrong, f"shape mismatches (got, expected): {dict(list(wrong.items())[:10])}"
    assert list(got) == list(expected), "state_dict key order differs from the original"
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == manifest["total_params_excluding_unused_in_forward"]
