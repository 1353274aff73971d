"""Errors reach the instructor: a check that raises is logged with its traceback and listed apart,
the runner logs to a file beside results.json (never into it), and `make grade` names both a
crashed runner and a broken hidden test per student.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import sys

import pytest
from conftest import ROOT
from student_user import student_user  # noqa: F401  (a fixture)

from a5kit.checking.core import Case, Failure, run_case
from a5kit.checking.submission import KitError, LocalSubmission
from a5kit.grader import batch, class_report, isolation, runner
from a5kit.grader import results as results_mod
from a5kit.grader.kernel_client import KernelSettings


def _case(func, hidden=True) -> Case:
    return Case("q2a", func.__name__.replace("_", " "), 1.0, hidden, func)


def broken_test(sub):
    return helper_that_was_renamed(sub.call("f"))  # noqa: F821  (the bug under test)


def fragile_test(sub):
    return sub.call("f").shape == (2,)  # a list from the student: AttributeError


def probe_test(sub):
    raise KitError("kit probe parameters failed: AttributeError: 'int' object has no attribute 'parameters'")


SUB = LocalSubmission({"f": lambda: [1, 2]})


# -- run_case --------------------------------------------------------------------------------------


def test_a_bug_in_a_hidden_test_is_an_error_for_the_instructor_not_a_silent_lost_point():
    result = run_case(_case(broken_test), SUB)
    assert result.score == 0 and result.error is not None and result.error.bug
    assert result.error.type == "NameError" and "helper_that_was_renamed" in result.error.message
    assert result.error.where == f"test_errors.py:{broken_test.__code__.co_firstlineno + 1}"
    assert "Traceback" in result.error.traceback and "helper_that_was_renamed(sub.call" in result.error.traceback
    assert "the check itself failed (NameError)" in result.output and "the instructor can see it" in result.output
    assert "helper_that_was_renamed" not in result.output  # the hidden test's code stays hidden


def test_a_check_that_raises_on_a_wrong_type_keeps_its_message_and_is_listed_for_the_instructor():
    result = run_case(_case(fragile_test), SUB)
    assert result.output == "could not check the answer: AttributeError: 'list' object has no attribute 'shape'"
    assert result.error is not None and not result.error.bug and result.error.where.startswith("test_errors.py:")


def test_failures_student_errors_and_kit_errors_are_not_check_errors():
    def wrong(sub):
        raise Failure("expected 3")

    def raises(sub):
        sub.call("g")

    student = LocalSubmission({"g": lambda: 1 / 0})
    assert run_case(_case(wrong), SUB).error is None
    assert run_case(_case(raises), student).error is None
    kit = run_case(_case(probe_test), SUB)
    assert kit.error is None and kit.output.startswith("could not check the answer: kit probe parameters failed")


# -- the runner: results.json, log, stderr ---------------------------------------------------------


def test_results_json_lists_the_check_errors_without_their_tracebacks():
    found = [run_case(_case(broken_test), SUB), run_case(_case(fragile_test, hidden=False), SUB)]
    doc = results_mod.results_json(found, "graded", 1.0)
    doc["extra_data"] = {"check_errors": runner.check_errors(found)}
    results_mod.validate(doc)
    errors = doc["extra_data"]["check_errors"]
    assert [(e["question"], e["hidden"], e["bug"]) for e in errors] == [("q2a", True, True), ("q2a", False, False)]
    assert errors[0]["error"].startswith("NameError: name 'helper_that_was_renamed' is not defined (test_errors.py:")
    assert "Traceback" not in json.dumps(doc)


@pytest.fixture
def a5kit_logger():
    """Leave the 'a5kit' logger as it was: runner.start_logging configures it for the process."""
    logger = logging.getLogger("a5kit")
    saved = (logger.level, logger.propagate, list(logger.handlers))
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        if handler not in saved[2]:
            handler.close()
    logger.setLevel(saved[0])
    logger.propagate = saved[1]
    for handler in saved[2]:
        logger.addHandler(handler)


def test_a_check_error_is_logged_with_its_traceback_to_the_log_and_named_on_stderr(tmp_path, a5kit_logger, capsys):
    runner.start_logging(tmp_path / "results.log")
    runner.log_check_error(run_case(_case(broken_test), SUB))
    runner.log_check_error(run_case(_case(fragile_test), SUB))
    text = (tmp_path / "results.log").read_text()
    assert "ERROR a5kit.grader: hidden test error in q2a (broken test): NameError" in text
    assert "Traceback (most recent call last)" in text and "helper_that_was_renamed(sub.call" in text
    assert "WARNING a5kit.grader: hidden test in q2a (fragile test) raised AttributeError" in text
    err = capsys.readouterr().err
    assert "hidden test error in q2a (broken test)" in err


def test_a_crashed_runner_logs_its_traceback_beside_results_json_and_keeps_it_out_of_results(
    tmp_path, a5kit_logger, capsys
):
    config = tmp_path / "grader.json"
    config.write_text('{"questions": {"01_self_attention": ["q1a"]}, "limits": {"no_such_limit": 1}}')
    results = tmp_path / "out" / "results.json"
    assert runner.main([str(tmp_path), str(results), "--tests", str(tmp_path), "--config", str(config)]) == 0
    doc = json.loads(results.read_text())
    assert doc["output"].startswith(batch.CRASH_MARK) and "Traceback" not in json.dumps(doc)
    log = (tmp_path / "out" / "results.log").read_text()
    assert (
        "the autograder itself failed" in log and "Traceback (most recent call last)" in log and "no_such_limit" in log
    )
    assert "no_such_limit" in capsys.readouterr().err  # what batch keeps of stderr for the notes


def test_a_broken_hidden_test_graded_by_the_real_runner_is_reported_apart(tmp_path, tiny_cache, student_user):
    from test_runner import ONE_HOT, notebook

    hidden = tmp_path / "tests"
    shutil.copytree(ROOT / "autograder" / "tests", hidden)
    with (hidden / "q2a.py").open("a") as fh:
        fh.write(
            "\n\n@case(points=1.0)\ndef uses_a_renamed_helper(sub):\n    return renamed_helper(sub.call('one_hot_encode_dna', 'A'))\n"
        )
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "02_dna_cnn.ipynb").write_text(notebook(ONE_HOT))
    if os.geteuid() == 0:
        for path in (tmp_path, sub):
            path.chmod(0o755)
    setup = runner.GraderSetup(
        hidden_tests=hidden,
        questions={"02_dna_cnn": ["q2a"]},
        cache=tiny_cache,
        limits=runner.Limits(cell=30.0, question=60.0, total=180.0),
        kernel=KernelSettings(user=student_user, memory_mb=1200),
    )
    doc = runner.grade_submission(sub, setup)
    results_mod.validate(doc)
    test = next(t for t in doc["tests"] if t["name"] == "q2a: uses a renamed helper")
    assert test["score"] == 0 and "the check itself failed (NameError)" in test["output"]
    assert [e["test"] for e in doc["extra_data"]["check_errors"]] == ["uses a renamed helper"]
    others = [t for t in doc["tests"] if t["name"].startswith("q2a:") and t["name"] != "q2a: uses a renamed helper"]
    assert others and all(t["score"] == t["max_score"] for t in others)  # the reference answer keeps its points


# -- make grade ------------------------------------------------------------------------------------


FAKE_RUNNER = """
import json, sys
from pathlib import Path
results = Path(sys.argv[1])
results.write_text(json.dumps({"score": 3.0, "output": "graded 1 notebook", "tests": [
    {"name": "q1a: shape", "score": 3.0, "max_score": 3.0, "output": "passed"},
    {"name": "q1a: values (hidden)", "score": 0.0, "max_score": 1.0, "output": "the check itself failed (NameError)"}],
    "extra_data": {"check_errors": [
        {"question": "q1a", "test": "values", "hidden": True, "bug": True, "error": "NameError: name 'ref' is not defined (q1a.py:12)"},
        {"question": "q1a", "test": "shape", "hidden": False, "bug": False, "error": "AttributeError: x"}]}}))
results.with_suffix(".log").write_text("Traceback (most recent call last): the whole story\\n")
"""


def _q1a_only(path) -> None:
    """grader.json of an autograder that grades q1a only, written through the one loader's types."""
    from a5kit.grader.settings import Limits, Notebook, Question, Settings

    Settings(notebooks=(Notebook("01_self_attention", (Question("q1a", 4.0),)),), limits=Limits(total=60.0)).write(path)


def test_make_grade_names_a_broken_hidden_test_per_student_and_keeps_the_runners_log(tmp_path, monkeypatch, capsys):
    autograder = tmp_path / "autograder"
    autograder.mkdir()
    _q1a_only(autograder / "grader.json")
    monkeypatch.setattr(
        batch, "runner_command", lambda sub, ag, results, user="": [sys.executable, "-c", FAKE_RUNNER, str(results)]
    )
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = tmp_path / "submissions"
    (folder / "ann").mkdir(parents=True)
    assert (
        batch.main([str(folder), "--autograder", str(autograder), "--out", str(tmp_path / "grades"), "--unsafe-as-me"])
        == 0
    )
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("ann "))
    assert "hidden test error in q1a (values): NameError: name 'ref' is not defined (q1a.py:12)" in row
    notes = next(r for r in csv.DictReader((tmp_path / "grades" / "grades.csv").open()) if r["student"] == "ann")[
        "notes"
    ]
    assert "hidden test error in q1a (values)" in notes and "1 check(s) raised on this answer" in notes
    assert "the whole story" in (tmp_path / "grades" / "logs" / "ann.log").read_text()
    page = (tmp_path / "grades" / "report.html").read_text()
    assert (
        "Checks that raised an error of their own" in page
        and "bug in the test" in page
        and "name &#x27;ref&#x27;" in page
    )


def test_the_class_report_lists_bugs_in_tests_first_counted_per_student():
    bug = {"question": "q1a", "test": "values", "hidden": True, "bug": True, "error": "NameError: x"}
    other = {"question": "q1a", "test": "shape", "hidden": False, "bug": False, "error": "AttributeError: y"}
    students = [
        class_report.from_results(s, {"tests": [], "extra_data": {"check_errors": errors}})
        for s, errors in [("ann", [other]), ("bob", [other, bug]), ("cy", [other, other])]
    ]
    assert class_report.raised_checks(students) == [
        ("q1a", "values", True, "NameError: x", 1),
        ("q1a", "shape", False, "AttributeError: y", 3),
    ]


def test_a_crashed_runner_reaches_the_class_report_with_its_exit_code_and_stderr(tmp_path, monkeypatch):
    autograder = tmp_path / "autograder"
    autograder.mkdir()
    _q1a_only(autograder / "grader.json")
    crash = "import sys; print('Traceback ...', file=sys.stderr); print('KeyError: questions', file=sys.stderr); sys.exit(3)"
    monkeypatch.setattr(batch, "runner_command", lambda *args, **kwargs: [sys.executable, "-c", crash])
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = tmp_path / "submissions"
    (folder / "ann").mkdir(parents=True)
    run = batch.run_batch(folder, autograder, tmp_path / "grades", unsafe_as_me=True)
    assert run.graded[0].problem.startswith("runner crashed (exit 3)")
    section = (tmp_path / "grades" / "report.html").read_text().split("did not run</h2>", 1)[1]
    assert "ann" in section and "runner crashed (exit 3)" in section and "KeyError: questions" in section
