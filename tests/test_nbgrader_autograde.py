"""nbgrader end to end: instructors who use nbgrader's own `autograde` get the same tests as
Gradescope. The hidden tests enter through the grade cells of the source notebooks, which
nbgrader restores before it runs a submission."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
ASSIGNMENT = "assignment5"


def _nbgrader(course: Path, *args: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}", "--log-level=WARN"]
    result = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory, tiny_cache):
    """A course with the kit's sources, two submissions (the solutions and the untouched release), autograded."""
    course = tmp_path_factory.mktemp("course")
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    for path in (ROOT / "solutions").glob("*.ipynb"):
        shutil.copyfile(path, course / "source" / ASSIGNMENT / path.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(
        A5KIT_MODE="replay",
        A5KIT_CACHE=str(tiny_cache),
        A5KIT_HIDDEN_TESTS=str(ROOT / "autograder" / "tests"),
        A5KIT_HIDDEN_SEED="97531",  # in-kernel q3c computes the hidden motif set from it (no default in the package)
        HF_HUB_OFFLINE="1",
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )  # nbgrader runs `alembic`
    _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env=env)
    submissions = {"solution": ROOT / "solutions", "release": course / "release" / ASSIGNMENT}
    for student, folder in submissions.items():
        target = course / "submitted" / student / ASSIGNMENT
        target.mkdir(parents=True)
        for path in folder.glob("*.ipynb"):
            shutil.copyfile(path, target / path.name)
    _nbgrader(course, "autograde", ASSIGNMENT, "--create", "--force", "--ExecutePreprocessor.timeout=600", env=env)
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in submissions:
            sub = gb.find_submission(ASSIGNMENT, student)
            written = {}
            for notebook in sub.notebooks:
                for grade in notebook.grades:
                    if grade.cell_type == "markdown":  # a written answer: graded by hand in formgrader
                        written[grade.name] = (
                            grade.max_score,
                            grade.auto_score,
                            grade.manual_score,
                            grade.needs_manual_grade,
                        )
            scores[student] = (sub.code_score, sub.max_code_score)
            scores[f"{student}-written"] = written
    return scores


def test_nbgrader_autograde_gives_the_solutions_every_autograded_point(gradebook):
    score, most = gradebook["solution"]
    assert most > 0 and score == pytest.approx(most)


def test_nbgrader_autograde_gives_the_untouched_release_nothing(gradebook):
    score, most = gradebook["release"]
    assert most > 0 and score == 0


def test_written_answers_wait_in_formgrader_with_their_points(gradebook):
    """Issue 23: after autograde every written cell is a manual grade with its points, not yet graded."""
    from a5kit import nbmeta

    want = {}
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        want.update(nbmeta.graded_points(path, autograded=False))
    written = gradebook["solution-written"]
    assert {name: max_score for name, (max_score, *_) in written.items()} == pytest.approx(want)
    assert sum(want.values()) == pytest.approx(22)
    assert all(auto is None and manual is None and needs for _, auto, manual, needs in written.values()), written
