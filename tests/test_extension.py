"""Loading of the compiled library: the reference fallback, the CI switch, the registrations."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from centernet_fast import cli

OPS = ["ctdet_decode", "ctdet_targets", "deform_conv2d", "deform_conv2d_backward", "focal_loss",
       "focal_loss_backward", "gaussian_radius"]

# Runs a snippet in a fresh interpreter in which `import centernet_fast._C` fails, as in a source
# checkout that was never built.
BLOCK_EXTENSION = textwrap.dedent("""
    import importlib.abc, sys
    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "centernet_fast._C":
                raise ImportError("No module named 'centernet_fast._C' (blocked by the test)")
    sys.meta_path.insert(0, _Block())
""")


def run_without_extension(code, require):
    env = {**os.environ, "CENTERNET_FAST_REQUIRE_EXT": "1" if require else "0"}
    return subprocess.run([sys.executable, "-W", "always", "-c", BLOCK_EXTENSION + code],
                          env=env, capture_output=True, text=True, timeout=300)


def test_missing_extension_falls_back_to_the_reference_with_one_warning():
    code = textwrap.dedent("""
        import torch, centernet_fast, centernet_fast.ops as ops
        assert not ops.extension_available()
        t = ops.ctdet_targets(torch.tensor([[[1., 1., 9., 7.]]]), torch.tensor([[0]]), 2, (10, 12))
        assert t.hm[0, 0, 4, 5] == 1 and int(t.reg_mask.sum()) == 1
        assert ops.gaussian_radius(20, 35).item() == 7.0
        assert ops.ctdet_decode(torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4), K=3).shape == (1, 3, 6)
        print("fallback ok")
    """)
    result = run_without_extension(code, require=False)
    assert result.returncode == 0, result.stderr
    assert "fallback ok" in result.stdout
    assert result.stderr.count("falls back to the slow plain-PyTorch reference") == 1


def test_missing_extension_is_an_import_error_when_required():
    result = run_without_extension("import centernet_fast", require=True)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "CENTERNET_FAST_REQUIRE_EXT=1" in result.stderr


def test_every_op_has_a_cpu_kernel(native):
    ops = cli.build_info()["ops"]
    assert sorted(ops) == OPS
    assert all("CPU" in ops[op] for op in OPS)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_every_op_has_a_cuda_kernel(native):
    assert cli.main(["info", "--require-cuda"]) == 0


def test_info_command_prints_the_build(native, capsys):
    assert cli.main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["extension_available"] is True and info["torch"] == torch.__version__
