"""Adding a question touches three files, and a fifth notebook is graded without editing any other.

In a temporary copy of the repository (src/, autograder/, solutions/, requirements/, pyproject.toml,
README.md) the test adds exactly three files -- the nbgrader source notebook ``solutions/05_toy.ipynb``
with one autograded question q7, its public check module ``src/a5kit/public_checks/q7.py`` and its hidden
test module ``autograder/tests/q7.py`` -- then builds the autograder from the copy with
``python -m a5kit.autograder`` and grades a submission of the new notebook with ``run_autograder``.
Gradescope would install the copy's a5kit wheel; here ``PYTHONPATH`` points the build and the
grader at the copy's ``src/`` instead (the student's kernel needs only the kit's kernel server).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from test_settings import add_one_cells, nbgrader_meta, toy_notebook

from a5kit import nbmeta
from a5kit.grader import results as results_mod
from a5kit.grader import settings as gs

pytestmark = pytest.mark.slow

COPIED = ("src", "autograder", "solutions", "requirements", "pyproject.toml", "README.md")
ADDED = {"solutions/05_toy.ipynb", "src/a5kit/public_checks/q7.py", "autograder/tests/q7.py"}

PUBLIC_Q7 = '''"""q7: add_one(x) returns x + 1 -- public checks."""

from a5kit.checking import Failure, case


@case(points=1)
def adds_one_to_zero(sub):
    got = sub.call("add_one", 0)
    if got != 1:
        raise Failure(f"add_one(0) should be 1, got {got!r}")
'''

HIDDEN_Q7 = '''"""q7: add_one -- hidden checks (autograder only)."""

from a5kit.checking import Failure, case


@case(points=2)
def adds_one_to_a_negative_number(sub):
    got = sub.call("add_one", -5)
    if got != -4:
        raise Failure(f"add_one(-5) should be -4, got {got!r}")
'''


def _files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of the copied parts (caches and build leftovers left out)."""
    found = {}
    for top in COPIED:
        path = root / top
        for f in [path] if path.is_file() else path.rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts and not any(p.endswith(".egg-info") for p in f.parts):
                found[f.relative_to(root).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def repo_with_q7(shared_tmp) -> Path:
    """A copy of the repository plus the three files of a new question q7 in a new notebook 05_toy."""
    copy = shared_tmp / "add-a-question" / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for top in COPIED:
        source = ROOT / top
        if source.is_dir():
            shutil.copytree(source, copy / top, ignore=ignore)
        else:
            shutil.copyfile(source, copy / top)
    toy_notebook(copy / "solutions" / "05_toy.ipynb", "q7", 3)
    (copy / "src" / "a5kit" / "public_checks" / "q7.py").write_text(PUBLIC_Q7)
    (copy / "autograder" / "tests" / "q7.py").write_text(HIDDEN_Q7)
    return copy


def _env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(PYTHONPATH=str(repo / "src"), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="module")
def built_with_q7(repo_with_q7, tiny_cache) -> Path:
    out = repo_with_q7.parent / "dist"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "a5kit.autograder",
            "--root",
            str(repo_with_q7),
            "--cache",
            str(tiny_cache),
            "--out",
            str(out),
            "--hidden-seed",
            "2026",
            "--example",
        ],
        cwd=repo_with_q7,
        env=_env(repo_with_q7),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / "autograder.zip"


def test_adding_q7_in_a_new_notebook_adds_three_files_and_edits_none(repo_with_q7):
    before, after = _files(ROOT), _files(repo_with_q7)
    assert set(after) - set(before) == ADDED
    assert set(before) - set(after) == set()
    assert [path for path in before if before[path] != after[path]] == []


def test_grader_json_built_from_the_copy_lists_the_fifth_notebook_and_q7_with_its_points(built_with_q7):
    settings = gs.load(built_with_q7.parent / "autograder" / "grader.json")
    assert settings.notebook_names[-1] == "05_toy" and len(settings.notebook_names) == 5
    assert settings.questions["05_toy"] == ["q7"]
    assert settings.question("q7") == gs.Question("q7", 3.0, public_points=1.0, hidden_points=2.0)
    with zipfile.ZipFile(built_with_q7) as zf:
        assert {"tests/q7.py", "grader.json"} <= set(zf.namelist())


def test_a_submission_of_the_fifth_notebook_is_graded_with_q7s_public_and_hidden_points(built_with_q7, repo_with_q7):
    root = built_with_q7.parent.parent / "gradescope"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(built_with_q7) as zf:
        zf.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
    shutil.copyfile(repo_with_q7 / "solutions" / "05_toy.ipynb", root / "submission" / "Copy of 05_toy.ipynb")
    env = _env(repo_with_q7)
    env.update(AUTOGRADER_ROOT=str(root), A5KIT_GRADER_PYTHON=sys.executable, A5KIT_STUDENT_USER="nobody")
    done = subprocess.run(
        [str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=900
    )
    doc = json.loads((root / "results" / "results.json").read_text())
    results_mod.validate(doc)
    q7 = {t["name"]: t for t in doc["tests"] if t["name"].startswith("q7:")}
    assert {name: (t["score"], t["max_score"], t["visibility"]) for name, t in q7.items()} == {
        "q7: adds one to zero": (1.0, 1.0, "visible"),
        "q7: adds one to a negative number": (2.0, 2.0, "after_published"),
    }, done.stdout + done.stderr
    assert doc["score"] == 3.0 and "graded 1 notebook (05_toy)" in doc["output"]
    assert "not found in the submission: 01_self_attention.ipynb" in doc["output"]  # the other four are still expected


# -- q7 in an existing notebook: the notebook source and two new files; the consistency tests pass ---------------

EXISTING = "solutions/02_dna_cnn.ipynb"
REGENERATED = {
    "assignment5/02_dna_cnn.ipynb",
    "src/a5kit/public_checks/public_expected.npz",
}  # what `make release` rewrites


def _add_q7_cells(path: Path) -> None:
    """A task, a solution and a grade cell for q7 (3 points), before the notebook's Submit section."""
    nb = nbformat.read(path, as_version=4)
    task = nbformat.v4.new_markdown_cell(
        "### Question 7 (3 points)\n\nWrite `add_one(x)`.", metadata=nbgrader_meta("q7-task")
    )
    cells = [task, *add_one_cells("q7", 3)]
    submit = next(i for i, c in enumerate(nb.cells) if nbmeta.grade_id(c) == "submit")
    nb.cells[submit:submit] = cells
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def repo_with_q7_in_notebook_2(shared_tmp) -> Path:
    """A copy of the repository (its tests too) where q7 joins notebook 2: its cells in the source, two new
    modules, then `make release` (python -m a5kit.release) regenerates what it writes."""
    copy = shared_tmp / "add-a-question" / "existing"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for top in (*COPIED, "tests", "assignment5"):
        source = ROOT / top
        if source.is_dir():
            shutil.copytree(source, copy / top, ignore=ignore)
        else:
            shutil.copyfile(source, copy / top)
    _add_q7_cells(copy / EXISTING)
    (copy / "src" / "a5kit" / "public_checks" / "q7.py").write_text(PUBLIC_Q7)
    (copy / "autograder" / "tests" / "q7.py").write_text(HIDDEN_Q7)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "a5kit.release",
            "--root",
            str(copy),
            "--example",
            "--student-out",
            str(copy.parent / "student"),
        ],
        cwd=copy,
        env=_env(copy),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return copy


def _all_files(root: Path) -> dict[str, str]:
    found = _files(root)
    for top in ("tests", "assignment5"):
        for f in (root / top).rglob("*"):
            if f.is_file() and "__pycache__" not in f.parts:
                found[f.relative_to(root).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return found


def test_adding_q7_to_notebook_2_edits_its_source_adds_two_modules_and_release_regenerates_the_rest(
    repo_with_q7_in_notebook_2,
):
    before, after = _all_files(ROOT), _all_files(repo_with_q7_in_notebook_2)
    assert set(after) - set(before) == {"src/a5kit/public_checks/q7.py", "autograder/tests/q7.py"}
    assert set(before) - set(after) == set()
    assert {path for path in before if before[path] != after[path]} == {EXISTING, *REGENERATED}


def test_the_consistency_tests_pass_with_q7_in_notebook_2_and_grade_it(repo_with_q7_in_notebook_2):
    """The suite's own consistency tests, run in the copy: no question list anywhere needed an edit."""
    selected = [
        "tests/test_settings.py",
        "tests/test_checks_dna.py",
        "tests/test_release.py",
        "-k",
        "q7 or grade_cells_carry or the_sources_give or committed_release_matches or stored_public_values "
        "or grade_cell_points_equal or every_question_module_has",
    ]
    env = _env(repo_with_q7_in_notebook_2)
    env.pop("PYTEST_XDIST_WORKER", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rA", *selected],
        cwd=repo_with_q7_in_notebook_2,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "PASSED tests/test_checks_dna.py::test_reference_solution_gets_full_points[q7]" in done.stdout, done.stdout[
        -3000:
    ]
