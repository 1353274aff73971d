"""The two-process grader on bad input: every submission gets a schema-valid results.json, a broken
part costs only its own question, and the student's code cannot reach the hidden tests or results.

Submissions here are small notebooks holding the reference answers to q1a (in 01_self_attention)
and q2a (in 02_dna_cnn), plus one kind of trouble each; limits are short so the suite stays fast.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from student_user import student_user  # noqa: F401  (a fixture)

from a5kit import nbmeta
from a5kit.grader import results as results_mod
from a5kit.grader.kernel_client import KernelSettings
from a5kit.grader.runner import GraderSetup, Limits, grade_submission
from a5kit.grader.settings import source_notebooks

HIDDEN = ROOT / "autograder" / "tests"
QUESTIONS = {"01_self_attention": ["q1a"], "02_dna_cnn": ["q2a"]}
POINTS = {
    q: p for q, p in nbmeta.notebook_points(source_notebooks(ROOT)).items() if q in ("q1a", "q2a")
}  # from the grade cells
AS_ROOT = os.geteuid() == 0
STUDENT = ""  # set per test by the autouse fixture below: the session's own student user when root


@pytest.fixture(autouse=True)
def _grade_as_the_session_student(student_user):
    global STUDENT
    STUDENT = student_user


def _solution(grade_id: str) -> str:
    cell = nbmeta.find(
        ROOT / "solutions" / ("01_self_attention.ipynb" if grade_id.startswith("q1") else "02_dna_cnn.ipynb"), grade_id
    )
    return re.sub(r"(?m)^\s*### (BEGIN|END) SOLUTION\n", "", nbmeta.source(cell))


ATTENTION = "import numpy as np\n" + _solution("q1a_solution")
ONE_HOT = "import numpy as np\n" + _solution("q2a-solution")


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a test notebook"), *(nbformat.v4.new_code_cell(c) for c in cells)]
    return nbformat.writes(nb)


def _setup(cache: Path, **limits: float) -> GraderSetup:
    return GraderSetup(
        hidden_tests=HIDDEN,
        questions=QUESTIONS,
        cache=cache,
        limits=Limits(**{"cell": 10.0, "question": 10.0, "total": 120.0, **limits}),
        kernel=KernelSettings(user=STUDENT, memory_mb=1200),
    )


def grade(tmp_path: Path, cache: Path, files: dict[str, str | bytes], **limits: float) -> dict:
    sub = tmp_path / "submission"
    sub.mkdir(parents=True, exist_ok=True)
    if AS_ROOT:
        tmp_path.chmod(0o755)
    for name, content in files.items():
        (sub / name).write_bytes(content.encode() if isinstance(content, str) else content)
    doc = grade_submission(sub, _setup(cache, **limits))
    results_mod.validate(doc)
    return doc


def score(doc: dict, question: str) -> float:
    return sum(t["score"] for t in doc["tests"] if t["name"].startswith(f"{question}:"))


def outputs(doc: dict, question: str) -> str:
    return "\n".join(t["output"] for t in doc["tests"] if t["name"].startswith(f"{question}:"))


def both(first_extra: list[str] | None = None, second: str | None = None) -> dict[str, str]:
    """01 with the q1a answer (plus extra cells), and 02 as given (default: the q2a answer)."""
    return {
        "01_self_attention.ipynb": notebook(ATTENTION, *(first_extra or [])),
        "02_dna_cnn.ipynb": second if second is not None else notebook(ONE_HOT),
    }


# -- the baseline ------------------------------------------------------------------------------


def test_reference_answers_get_every_point(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both())
    assert score(doc, "q1a") == POINTS["q1a"] and score(doc, "q2a") == POINTS["q2a"]
    assert doc["score"] == sum(POINTS.values())


def test_summary_is_a_visible_zero_point_test_naming_what_was_graded(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both())
    summary = doc["tests"][0]
    assert summary["name"] == "Summary" and summary["max_score"] == 0 and summary["visibility"] == "visible"
    assert (
        "graded 2 notebooks" in summary["output"]
        and "hidden tests show after grades are published" in summary["output"]
    )


def test_hidden_cases_are_shown_after_publication_and_public_ones_now(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both())
    visibility = {t["name"]: t["visibility"] for t in doc["tests"][1:]}
    assert visibility["q1a: large logits are numerically stable"] == "after_published"
    assert visibility["q2a: returns float32"] == "visible"


def test_execution_time_is_a_number_of_seconds(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both())
    assert isinstance(doc["execution_time"], float) and 0 < doc["execution_time"] < 120


# -- files that are not gradable notebooks ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("print('hello')\n", "invalid JSON"),
        ('{"cells": [', "invalid JSON"),
        (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}), "nbformat 3"),
        (json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {}}), "no cells"),
    ],
    ids=["not-a-notebook", "corrupt-json", "nbformat-3", "no-cells"],
)
def test_an_ungradable_notebook_costs_its_own_questions_only(tmp_path, tiny_cache, content, message):
    doc = grade(tmp_path, tiny_cache, both(second=content))
    assert score(doc, "q2a") == 0 and message in outputs(doc, "q2a")
    assert score(doc, "q1a") == POINTS["q1a"]


def test_an_empty_submission_scores_zero_and_says_so(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, {})
    assert doc["score"] == 0 and "empty" in doc["output"]
    assert all(t["score"] == 0 for t in doc["tests"]) and len(doc["tests"]) > 1


def test_a_zip_of_the_notebooks_is_graded(tmp_path, tiny_cache):
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, text in both().items():
            zf.writestr(f"Copy of {name}", text)
    doc = grade(tmp_path, tiny_cache, {"upload.zip": archive.read_bytes()})
    assert doc["score"] == sum(POINTS.values())


def test_two_copies_of_a_notebook_grade_the_newer_and_say_so(tmp_path, tiny_cache):
    files = both()
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "02_dna_cnn.ipynb").write_text(notebook("def one_hot_encode_dna(s):\n    return None"))
    os.utime(sub / "02_dna_cnn.ipynb", (1_000_000_000, 1_000_000_000))
    doc = grade(
        tmp_path,
        tiny_cache,
        {
            "01_self_attention.ipynb": files["01_self_attention.ipynb"],
            "02_dna_cnn (1).ipynb": files["02_dna_cnn.ipynb"],
        },
    )
    assert score(doc, "q2a") == POINTS["q2a"] and "02_dna_cnn (1).ipynb" in doc["output"]


# -- code that breaks ---------------------------------------------------------------------------


def test_a_renamed_function_costs_its_question_with_a_message_naming_it(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both(second=notebook(ONE_HOT.replace("def one_hot_encode_dna", "def one_hot"))))
    assert score(doc, "q2a") == 0 and "no function named one_hot_encode_dna()" in outputs(doc, "q2a")
    assert score(doc, "q1a") == POINTS["q1a"]


@pytest.mark.parametrize(
    ("cell", "reported"),
    [
        ("def broken(:\n    pass", "SyntaxError"),
        ("1 / 0", "ZeroDivisionError"),
        ("import sys\nsys.exit(3)", "SystemExit"),
    ],
    ids=["syntax-error", "exception", "sys-exit"],
)
def test_a_failing_cell_is_reported_and_costs_nothing_else(tmp_path, tiny_cache, cell, reported):
    doc = grade(tmp_path, tiny_cache, both(second=notebook(cell, ONE_HOT, cell)))
    assert score(doc, "q2a") == POINTS["q2a"] and score(doc, "q1a") == POINTS["q1a"]
    assert reported in doc["output"]


def test_an_infinite_loop_in_a_cell_is_stopped_and_the_rest_is_graded(tmp_path, tiny_cache):
    doc = grade(tmp_path, tiny_cache, both(second=notebook("while True:\n    pass", ONE_HOT)), cell=2)
    assert score(doc, "q2a") == POINTS["q2a"] and "stopped after 2 s" in doc["output"]


def test_an_infinite_loop_in_a_graded_function_costs_that_question_only(tmp_path, tiny_cache):
    looping = "def one_hot_encode_dna(sequence):\n    while True:\n        pass"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(looping)), question=3)
    assert score(doc, "q2a") == 0 and "did not finish within" in outputs(doc, "q2a")
    assert "q2a timed out" in doc["output"] and score(doc, "q1a") == POINTS["q1a"]


def test_a_kernel_that_ignores_interrupts_is_restarted_and_the_notebook_redefined(tmp_path, tiny_cache):
    stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(ONE_HOT, stubborn)), cell=2)
    assert score(doc, "q2a") == POINTS["q2a"] and "restarted" in doc["output"]


@pytest.mark.parametrize(
    "cell",
    ["import os\nos._exit(1)", "import ctypes\nctypes.string_at(0)"],
    ids=["os-exit", "segfault"],
)
def test_a_dead_kernel_is_restarted_and_earlier_cells_rerun(tmp_path, tiny_cache, cell):
    doc = grade(tmp_path, tiny_cache, both(second=notebook(ONE_HOT, cell, "x = 1")))
    assert score(doc, "q2a") == POINTS["q2a"] and score(doc, "q1a") == POINTS["q1a"]
    assert "kernel died" in doc["output"]


def _never_read(monkeypatch, first: str) -> list[str]:
    """The kernel never reads the first piece of code that starts with ``first`` (no status, no reply),
    as ipykernel 7.0-7.3 now and then do (ipython/ipykernel#1529); returns what was dropped."""
    from jupyter_client.blocking import BlockingKernelClient

    from a5kit.grader import kernel_client

    real, dropped = BlockingKernelClient.execute, []

    def execute(self, code, *args, **kwargs):
        if not dropped and code.startswith(first):
            dropped.append(code)
            return "never-read-request"
        return real(self, code, *args, **kwargs)

    monkeypatch.setattr(BlockingKernelClient, "execute", execute)
    monkeypatch.setattr(kernel_client, "LOST_AFTER", 2.0)
    return dropped


@pytest.mark.parametrize(
    "first",
    ["_a5kit_serve_", "import numpy as np\ndef one_hot_encode_dna", "exec("],
    ids=["a-request", "a-cell", "the-grader-helper"],
)
def test_code_the_kernel_never_reads_is_run_again_in_a_fresh_kernel_and_costs_nothing(
    tmp_path, tiny_cache, monkeypatch, first
):
    dropped = _never_read(monkeypatch, first)
    doc = grade(tmp_path, tiny_cache, both())
    assert dropped, "nothing was dropped: the test did not exercise a lost request"
    assert score(doc, "q2a") == POINTS["q2a"] and score(doc, "q1a") == POINTS["q1a"]
    assert "infinite loop" not in outputs(doc, "q2a") + outputs(doc, "q1a")


def test_a_graded_function_that_kills_the_kernel_costs_only_its_cases(tmp_path, tiny_cache):
    killer = (
        ONE_HOT + "\n\n_real = one_hot_encode_dna\ndef one_hot_encode_dna(sequence):\n    if sequence == 'acgTn':\n  "
        "      import os; os._exit(1)\n    return _real(sequence)\n"
    )
    doc = grade(tmp_path, tiny_cache, both(second=notebook(killer)))
    lost = [t for t in doc["tests"] if t["name"].startswith("q2a:") and t["score"] == 0]
    assert [t["name"] for t in lost] == ["q2a: lowercase is accepted"] and "killed the notebook's kernel" in lost[0][
        "output"
    ]


@pytest.mark.parametrize(
    "cell",
    ["x = bytearray(50 * 2**30)", "hoard = []\nwhile True:\n    hoard.append(bytearray(2**24))"],
    ids=["one-huge-allocation", "growing-list"],
)
def test_a_memory_bomb_costs_only_its_cell(tmp_path, tiny_cache, cell):
    doc = grade(tmp_path, tiny_cache, both(second=notebook(ONE_HOT, cell)), cell=30)
    assert score(doc, "q2a") == POINTS["q2a"] and score(doc, "q1a") == POINTS["q1a"]
    assert "MemoryError" in doc["output"] or "memory" in doc["output"]


def test_100_mb_of_printed_output_is_drained_not_kept(tmp_path, tiny_cache):
    flood = "for _ in range(100):\n    print('x' * 2**20)"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(flood, ONE_HOT)), cell=60)
    assert score(doc, "q2a") == POINTS["q2a"]
    assert len(json.dumps(doc)) < 100_000


def test_monkeypatching_numpy_or_the_test_helpers_in_the_kernel_changes_nothing(tmp_path, tiny_cache):
    wrong = "import numpy as np\ndef one_hot_encode_dna(sequence):\n    return np.zeros((len(sequence), 4), dtype=np.float32)"
    cheat = (
        "import numpy, a5kit.checking.expect as ex, a5kit.checking.core as core\n"
        "numpy.allclose = lambda *a, **k: True\nnumpy.array_equal = lambda *a, **k: True\n"
        "ex.close = lambda *a, **k: None\ncore.run_case = lambda c, s: core.Result(c.question, c.name, "
        "c.points, c.points, c.hidden, 'passed')"
    )
    honest = grade(tmp_path / "honest", tiny_cache, both(second=notebook(wrong)))
    doc = grade(tmp_path / "cheat", tiny_cache, both(second=notebook(wrong, cheat)))
    assert score(doc, "q2a") == score(honest, "q2a") < POINTS["q2a"]


# -- the student's user cannot reach what the grader protects ----------------------------------

needs_root = pytest.mark.skipif(not AS_ROOT, reason="the user switch needs root (as on Gradescope)")


@needs_root
def test_the_student_user_cannot_read_the_hidden_tests(tmp_path, tiny_cache):
    hidden = tmp_path / "autograder" / "tests"
    shutil.copytree(HIDDEN, hidden)
    (tmp_path / "autograder").chmod(0o700)
    peek = f"def one_hot_encode_dna(sequence):\n    return open({str(hidden / 'q2a.py')!r}).read()"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(peek)))
    assert "PermissionError" in outputs(doc, "q2a") and "def " not in outputs(doc, "q2a")


@needs_root
def test_the_student_user_cannot_write_the_results(tmp_path, tiny_cache):
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    forge = f"def one_hot_encode_dna(sequence):\n    open({str(results / 'results.json')!r}, 'w').write('{{\"score\": 100}}')"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(forge)))
    assert not (results / "results.json").exists()
    assert "PermissionError" in outputs(doc, "q2a")


@needs_root
def test_notebooks_run_as_the_student_user(tmp_path, tiny_cache):
    import pwd

    whoami = "import os\ndef one_hot_encode_dna(sequence):\n    raise ValueError(f'uid={os.getuid()}')"
    doc = grade(tmp_path, tiny_cache, both(second=notebook(whoami)))
    assert f"uid={pwd.getpwnam(STUDENT).pw_uid}" in outputs(doc, "q2a")


def test_without_a_student_user_the_summary_says_the_tests_were_not_protected(tmp_path, tiny_cache):
    sub = tmp_path / "submission"
    sub.mkdir()
    setup = _setup(tiny_cache)
    setup = setup.with_kernel(user="")
    doc = grade_submission(sub, setup)
    assert "ran as the grader's user" in doc["output"]


def test_without_root_it_grades_without_the_user_switch_and_says_so(tmp_path, tiny_cache, monkeypatch):
    from a5kit.grader import kernel_client as kernel
    from a5kit.grader import runner

    monkeypatch.setattr(runner.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(kernel.os, "geteuid", lambda: 1000)
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / "02_dna_cnn.ipynb").write_text(notebook(ONE_HOT))
    setup = _setup(tiny_cache)
    setup = setup.with_kernel(user="a5student")
    doc = grade_submission(sub, setup)
    assert score(doc, "q2a") == POINTS["q2a"]
    assert "not running as root" in doc["output"] and "hidden tests were not protected" in doc["output"]
