"""scripts/gpu_check.sh, the one command of a lent GPU machine: it parses, documents itself and
refuses bad usage before it builds or runs anything (the script itself is rehearsed with
``--rehearse``, not from here)."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "gpu_check.sh"


def run(*args):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


def test_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_clean():
    done = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_help_names_every_option_and_output():
    done = run("--help")
    assert done.returncode == 0
    for word in ("--part", "--budget", "--name", "--archs", "--no-compile", "--tests-k",
                 "--wheels", "--reuse-build", "--rehearse", "--fetch-wheels", "summary.txt",
                 "env.txt", "tests.xml", "NAME-ops.json", "NAME-models.json", "NAME.md"):
        assert word in done.stdout, word


@pytest.mark.parametrize("args", [[], ["--part", "bench", "out"], ["--budget", "8m", "out"],
                                  ["--bogus", "out"], ["a", "b"]])
def test_bad_usage_exits_2(args, tmp_path):
    done = run(*[str(tmp_path / a) if a in ("out", "a", "b") else a for a in args])
    assert done.returncode == 2 and "gpu_check:" in done.stderr


def test_refuses_a_folder_with_results_in_it(tmp_path):
    (tmp_path / "summary.txt").write_text("an earlier check\n")
    done = run(str(tmp_path))
    assert done.returncode == 2 and "not empty" in done.stderr
    assert (tmp_path / "summary.txt").read_text() == "an earlier check\n"
