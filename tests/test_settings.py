"""grader.json, the one source at grading time: its schema, its loader, and what the build refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT

from a5kit import nbmeta
from a5kit.grader import results, runner
from a5kit.grader import settings as gs

HIDDEN = ROOT / "autograder" / "tests"


@pytest.fixture(scope="module")
def repo_settings() -> gs.Settings:
    return gs.from_sources(gs.source_notebooks(ROOT), HIDDEN, user=gs.STUDENT_USER)


def _doc(**changes) -> dict:
    doc = {
        "notebooks": [
            {
                "name": "01_self_attention",
                "questions": [{"id": "q1a", "points": 4, "public_points": 1.5, "hidden_points": 2.5}],
            }
        ]
    }
    doc.update(changes)
    return doc


def nbgrader_meta(grade_id: str, **flags) -> dict:
    """A cell's nbgrader metadata: a locked, ungraded cell unless ``flags`` say otherwise."""
    base = {"grade": False, "solution": False, "locked": True, "task": False, "schema_version": 3}
    return {"nbgrader": {**base, "grade_id": grade_id, **flags}}


def add_one_cells(question: str, points: float) -> list:
    """The solution cell of ``add_one`` and the grade cell of ``question`` (hidden tests restored by nbgrader)."""
    return [
        nbformat.v4.new_code_cell(
            "def add_one(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n",
            metadata=nbgrader_meta(f"{question}-solution", solution=True, locked=False),
        ),
        nbformat.v4.new_code_cell(
            f'### BEGIN HIDDEN TESTS\na5kit.checking.use_hidden_tests()\n### END HIDDEN TESTS\ngrade("{question}")',
            metadata=nbgrader_meta(question, grade=True, points=points),
        ),
    ]


def toy_notebook(path: Path, question: str, points: float) -> Path:
    """A source notebook with one autograded question: a solution cell and a grade cell (nbgrader metadata)."""
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell("from a5kit.checking import check, grade", metadata=nbgrader_meta("setup"))
    nb.cells = [setup, *add_one_cells(question, points)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


# -- the repository's sources ------------------------------------------------------------------


def test_the_sources_give_every_notebook_its_autograded_questions_with_points_that_add_up(repo_settings):
    assert repo_settings.notebook_names == tuple(p.stem for p in gs.source_notebooks(ROOT))
    assert repo_settings.points == nbmeta.notebook_points(gs.source_notebooks(ROOT))
    for notebook in repo_settings.notebooks:
        for q in notebook.questions:
            assert q.public_points > 0 and q.hidden_points > 0 and q.public_points + q.hidden_points == q.points


def test_settings_survive_a_round_trip_through_grader_json(repo_settings, tmp_path):
    assert gs.load(repo_settings.write(tmp_path / "grader.json")) == repo_settings


def test_defaults_are_the_kits_limits_user_memory_and_visibility():
    loaded = gs.from_dict({"notebooks": []})
    assert loaded.limits == gs.Limits() and loaded.hidden_visibility == "after_published" == results.HIDDEN_VISIBILITY
    assert loaded.kernel_memory_mb == gs.KERNEL_MEMORY_MB and loaded.user == ""


def test_the_schema_allows_exactly_gradescopes_visibilities():
    assert gs.schema()["properties"]["hidden_visibility"]["enum"] == list(results.VISIBILITIES)


# -- what the loader refuses, and how it says so ------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "'notebooks' is a required property"),
        (_doc(hidden_visibility="later"), "hidden_visibility: 'later' is not one of"),
        (_doc(limits={"cell": -1}), "limits/cell: -1 is less than or equal to the minimum of 0"),
        (_doc(limits={"cel": 60}), "Additional properties are not allowed ('cel' was unexpected)"),
        (_doc(kernel_memory_mb="1500"), "kernel_memory_mb: '1500' is not of type 'integer'"),
        (
            _doc(questions={"01_self_attention": ["q1a"]}),
            "Additional properties are not allowed ('questions' was unexpected)",
        ),
        (
            _doc(notebooks=[{"name": "01_self_attention", "questions": [{"id": "q1a"}]}]),
            "'points' is a required property",
        ),
        (
            _doc(
                notebooks=[
                    {"name": "a", "questions": [{"id": "q1a", "points": 1}]},
                    {"name": "b", "questions": [{"id": "q1a", "points": 1}]},
                ]
            ),
            "question 'q1a' is listed twice",
        ),
        (
            _doc(notebooks=[{"name": "a", "questions": []}, {"name": "a", "questions": []}]),
            "notebook 'a' is listed twice",
        ),
        (
            _doc(
                notebooks=[
                    {"name": "a", "questions": [{"id": "q1a", "points": 4, "public_points": 1, "hidden_points": 2}]}
                ]
            ),
            "a/q1a: public (1) and hidden (2) points do not add up to its 4 points",
        ),
    ],
)
def test_an_invalid_grader_json_is_refused_naming_the_problem(doc, message):
    with pytest.raises(gs.SettingsError) as err:
        gs.from_dict(doc)
    assert message in str(err.value)


def test_a_missing_or_broken_file_says_to_rebuild(tmp_path):
    with pytest.raises(gs.SettingsError, match=r"cannot read .* `make autograder`"):
        gs.load(tmp_path / "grader.json")
    (tmp_path / "grader.json").write_text("{")
    with pytest.raises(gs.SettingsError, match=r"is not JSON .* `make autograder`"):
        gs.load(tmp_path / "grader.json")


def test_the_command_line_prints_one_value_for_setup_sh_and_fails_on_an_invalid_file(repo_settings, tmp_path):
    path = repo_settings.write(tmp_path / "grader.json")
    got = subprocess.run(
        [sys.executable, "-m", "a5kit.grader.settings", str(path), "--get", "user"], capture_output=True, text=True
    )
    assert (got.returncode, got.stdout) == (0, "a5student\n")
    path.write_text(json.dumps(_doc(hidden_visibility="later")))
    bad = subprocess.run(
        [sys.executable, "-m", "a5kit.grader.settings", str(path), "--get", "user"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "hidden_visibility" in bad.stderr


def test_setup_sh_reads_grader_json_only_through_the_loader():
    setup = (ROOT / "autograder" / "setup.sh").read_text()
    assert "-m a5kit.grader.settings" in setup and "json.load" not in setup


def test_the_runner_reports_an_invalid_grader_json_in_results_json(tmp_path):
    (tmp_path / "grader.json").write_text(json.dumps(_doc(hidden_visibility="later")))
    (tmp_path / "submission").mkdir()
    runner.main(
        [
            str(tmp_path / "submission"),
            str(tmp_path / "results.json"),
            "--tests",
            str(HIDDEN),
            "--config",
            str(tmp_path / "grader.json"),
        ]
    )
    doc = json.loads((tmp_path / "results.json").read_text())
    assert (
        doc["score"] == 0
        and "the autograder itself failed (a5kit.grader.settings.SettingsError" in doc["output"]
        and "hidden_visibility" in doc["output"]
    )


def test_the_runner_takes_notebooks_questions_limits_and_visibility_from_the_settings(repo_settings):
    setup = runner.setup_from_settings(repo_settings, HIDDEN)
    assert setup.notebooks == repo_settings.notebook_names and setup.questions == repo_settings.questions
    assert (setup.limits, setup.hidden_visibility, setup.kernel.memory_mb) == (
        repo_settings.limits,
        "after_published",
        gs.KERNEL_MEMORY_MB,
    )
    assert setup.user == "a5student"


# -- what the build refuses -----------------------------------------------------------------------


def test_a_grade_cell_without_a_public_check_module_is_refused_by_name(tmp_path):
    with pytest.raises(
        gs.SettingsError,
        match=r"05_toy.ipynb: question q99 has a grade cell but no public check module a5kit/public_checks/q99.py",
    ):
        gs.from_sources([toy_notebook(tmp_path / "05_toy.ipynb", "q99", 3)], HIDDEN)


def test_a_grade_cell_whose_points_differ_from_its_tests_is_refused_with_both_numbers(tmp_path):
    with pytest.raises(
        gs.SettingsError,
        match=r"question q1a is worth 5 points in its nbgrader grade cell, but its tests add up to 4 "
        r"\(public 1.5 in a5kit/public_checks/q1a.py, hidden 2.5 in tests/q1a.py\)",
    ):
        gs.from_sources([toy_notebook(tmp_path / "05_toy.ipynb", "q1a", 5)], HIDDEN)


# -- nbgrader metadata ----------------------------------------------------------------------------


def test_nbmeta_reads_flags_points_and_the_question_a_cell_belongs_to(tmp_path):
    nb = nbformat.read(toy_notebook(tmp_path / "toy.ipynb", "q7", 3), as_version=4)
    grade_cell = nbmeta.find(nb, "q7")
    assert nbmeta.meta(grade_cell).autograded and nbmeta.meta(grade_cell).points == 3.0
    assert (
        nbmeta.is_solution(nbmeta.find(nb, "q7-solution"))
        and nbmeta.meta(nbmeta.find(nb, "q7-solution")).question == "q7"
    )
    assert nbmeta.autograded_questions(nb) == ["q7"] and nbmeta.graded_points(nb) == {"q7": 3.0}
    assert nbmeta.autograded_questions(json.loads((tmp_path / "toy.ipynb").read_text())) == ["q7"]  # plain JSON too
    assert [nbmeta.question_of(g) for g in ("q3b-written", "q1b_plot_attention", "q12", "setup", None)] == [
        "q3b",
        "q1b",
        "q12",
        None,
        None,
    ]
