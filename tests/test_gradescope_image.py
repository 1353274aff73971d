"""The built archive where it really runs: `setup.sh` on a stand-in of Gradescope's default image
(CPython 3.10, pip with the package registry alone, as root), then the archive's `run_autograder`
grades the solution (full marks) and the blank release (0).

With the registry alone torch is the registry's build (on x86_64 Linux the CUDA build): the grade
must not depend on it (issue 19). How close the stand-in is: tests/gradescope_image.py.
"""

from __future__ import annotations

import dataclasses
import json
import pwd
import shutil
import subprocess
import zipfile
from pathlib import Path

import gradescope_image as image
import pytest
from conftest import ROOT

from a5kit import autograder
from a5kit.checking.core import load_cases
from a5kit.grader import results as results_mod
from a5kit.grader import settings as grader_settings
from a5kit.grader.memory import Scope
from a5kit.grader.runner import questions_in
from a5kit.grader.settings import STUDENT_USER, Limits

pytestmark = pytest.mark.slow
HIDDEN = ROOT / "autograder" / "tests"


def _full_marks() -> float:
    questions = [q for p in sorted((ROOT / "solutions").glob("*.ipynb")) for q in questions_in(p)]
    return sum(c.points for q in questions for c in load_cases(q, HIDDEN))


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def gradescope(shared_tmp, tiny_cache):
    """An AUTOGRADER_ROOT whose setup.sh has run: (root, PATH, setup.sh's output)."""
    import os

    if os.geteuid() != 0:
        pytest.skip("setup.sh creates the student user and runs as root, as on Gradescope; run the tests as root")
    python = image.python_310()
    if python is None:
        pytest.fail(
            "no CPython 3.10 found (python3.10 on PATH or pyenv's versions/3.10.*): this test stands in for "
            "Gradescope's default image and needs one; install it (pyenv install 3.10)"
        )
    archive = autograder.build(ROOT, tiny_cache, shared_tmp / "gradescope-dist")
    root = shared_tmp / "gradescope"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(root / "source")
    for script in autograder.SCRIPTS:
        (root / "source" / script).chmod(0o755)
    _generous_time_limits(root / "source" / "grader.json")
    path = image.tool_path(shared_tmp / "gradescope-bin", image.public_python(python, shared_tmp / "python3.10"))
    had_user = _user_exists(STUDENT_USER)
    run = image.run_setup(root, path, shared_tmp / "setup.log")
    log = (shared_tmp / "setup.log").read_text()
    try:
        assert run.returncode == 0, "setup.sh failed:\n" + log[-4000:]
        yield root, path, log
    finally:
        if not had_user and _user_exists(STUDENT_USER):
            Scope(pwd.getpwnam(STUDENT_USER).pw_uid).kill_all()
            subprocess.run(["userdel", STUDENT_USER], capture_output=True)


def _generous_time_limits(config: Path) -> None:
    """Gradescope's time limits are wall-clock; on a loaded test machine (other test files, 2 cores) the
    first import of torch's CUDA build can take minutes. This test is about what installs and what it
    grades, not speed (`make bench` measures that), so its time limits are generous."""
    settings = grader_settings.load(config)
    dataclasses.replace(settings, limits=Limits(cell=600.0, question=600.0, total=1500.0, deadline=1600.0)).write(
        config
    )


def _grade(root: Path, path: str, notebooks: list[Path]) -> tuple[dict, str]:
    """run_autograder as Gradescope calls it (root, a bare environment) on ``notebooks``: results.json and
    the last lines run_autograder printed (the grader's warnings, to explain a failure)."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    (root / "submission").mkdir()
    for notebook in notebooks:
        shutil.copyfile(notebook, root / "submission" / notebook.name)
    env = {"PATH": path, "HOME": str(root), "AUTOGRADER_ROOT": str(root)}
    run = subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=1800
    )
    doc = json.loads((root / "results" / "results.json").read_text())
    results_mod.validate(doc)
    printed = [
        line
        for line in (run.stdout + run.stderr).splitlines()
        if line.strip() and "TinyResultWarning" not in line and "return cached_call(" not in line
    ]
    return doc, "\n".join(printed[-30:])


def test_setup_sh_installs_the_archive_on_python_3_10_with_the_registry_alone(gradescope):
    root, _, log = gradescope
    assert "(Python 3.10." in log and "a5kit 0.1.0 autograder installed" in log
    assert "download.pytorch.org" not in [line for line in log.splitlines() if line.startswith("ERROR")]
    versions = subprocess.run(
        [
            str(root / "venv" / "bin" / "python"),
            "-c",
            "import sys, numpy, ipykernel; print(sys.version_info[:2], numpy.__version__, ipykernel.__version__)",
        ],
        capture_output=True,
        text=True,
        cwd="/",
    )
    assert versions.stdout.startswith("(3, 10) 2.2."), versions.stderr
    assert versions.stdout.split()[-1].startswith("6."), "ipykernel 7.0-7.3 leave requests unread (ipykernel#1529)"


def test_setup_sh_says_which_torch_build_it_installed(gradescope):
    _, _, log = gradescope
    (line,) = [line for line in log.splitlines() if line.startswith("setup.sh: torch ") and line.endswith(" installed")]
    assert "build)" in line and ("CUDA" in line or "CPU" in line)


def test_the_solution_gets_full_marks_whatever_torch_build_setup_sh_installed(gradescope):
    root, path, log = gradescope
    doc, printed = _grade(root, path, sorted((ROOT / "solutions").glob("*.ipynb")))
    lost = [(t["name"], t["output"][:300]) for t in doc["tests"] if t["score"] < t["max_score"]]
    build = next(line for line in log.splitlines() if line.startswith("setup.sh: torch "))
    assert lost == [], f"{build}\nrun_autograder printed:\n{printed}"
    assert doc["score"] == pytest.approx(_full_marks()) and "graded 4 notebooks" in doc["output"]


def test_the_blank_release_gets_nothing(gradescope):
    root, path, _ = gradescope
    doc, printed = _grade(root, path, sorted((ROOT / "assignment5").glob("*.ipynb")))
    assert doc["score"] == 0, printed
    assert "graded 4 notebooks" in doc["output"]
