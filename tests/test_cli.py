import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, SHARED_DATA

from a5kit.demo import PARTLY_WRONG


@pytest.fixture(scope="module")
def demo_output() -> str:
    """`make demo`'s command, offline, from the repository root."""
    # not under pytest's private tmp: as root the example notebooks run as an unprivileged user,
    # who must be able to read the demo cache
    tmp = Path(tempfile.mkdtemp(prefix="a5kit-demo-"))
    tmp.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "HF_HUB_OFFLINE": "1", "A5KIT_DATA_DIR": str(tmp / "dl")}
    if (SHARED_DATA / "targets_human.txt").exists():  # as `make demo` exports it
        env["A5KIT_DATA_MIRROR"] = str(SHARED_DATA)
    if (
        "DIST_EXTRA_CONFIG" in os.environ
    ):  # under pytest-xdist: this worker's own wheel build folder (tests/conftest.py)
        env["DIST_EXTRA_CONFIG"] = os.environ["DIST_EXTRA_CONFIG"]
    result = subprocess.run(
        # a relative workdir, as `make demo` passes it
        [sys.executable, "-m", "a5kit", "demo", "--workdir", os.path.relpath(tmp / "work", ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=ROOT,
    )
    solution = tmp / "work" / "grades" / "results" / "solution.json"
    summary = json.loads(solution.read_text())["output"] if solution.exists() else ""
    report = tmp / "work" / "grades" / "report.html"
    page = report.read_text() if report.exists() else ""
    shutil.rmtree(tmp, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + "\nSOLUTION SUMMARY: " + summary + "\nCLASS REPORT: " + page


def test_demo_runs_offline_and_says_it_is_tiny(demo_output):
    out = demo_output
    assert "TINY" in out
    assert "attentions (12, 12, 10, 10)" in out
    assert "(200, 5313)" in out
    assert "identical to a fresh tiny run: True" in out
    assert "CacheMiss" in out
    assert "TINY DEMO CACHE" in out


def _table_start(lines: list[str]) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith("student "))


def _table(out: str) -> dict[str, dict[str, float]]:
    lines = out.splitlines()
    start = _table_start(lines)
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = dict(zip(header[1:], map(float, cells[1:])))
    return rows


def test_demo_grades_the_three_example_submissions_with_the_gradescope_runner(demo_output):
    table = _table(demo_output)
    maxima = table["(max)"]
    assert table["solution"] == maxima
    assert all(score == 0 for score in table["release"].values())
    wrong = table["partly_wrong"]
    broken = {q for q in maxima if q != "total" and wrong[q] < maxima[q]}
    assert broken == {q for *_, q in PARTLY_WRONG}
    assert all(wrong[q] > 0 for q in broken)
    lines = demo_output.splitlines()
    after_table = "\n".join(lines[_table_start(lines) :])  # the label comes with the scores, not only in the header
    assert "TINY DEMO CACHE" in after_table


def test_demo_solution_runs_every_cell_in_the_grader(demo_output):
    summary = demo_output.split("SOLUTION SUMMARY: ", 1)[1].split("\nCLASS REPORT: ", 1)[0]
    assert "graded 4 notebooks" in summary
    if (SHARED_DATA / "targets_human.txt").exists():  # without it notebook 3 has no track table
        assert "code cell" not in summary, summary


def test_demo_writes_a_class_report_with_score_plots_and_the_commonest_messages(demo_output):
    out, page = demo_output.split("\nCLASS REPORT: ", 1)
    assert "class report (score plots" in out
    assert "src='data:image/png;base64," in page  # the score distribution of every question, one figure
    assert "3 students" in page
    for *_, question in PARTLY_WRONG:  # the partly wrong student's mistakes are counted under their questions
        section = page.split(f"<h3>{question} ", 1)[1].split("<h3>", 1)[0]
        assert "<td>1</td>" in section, section[:500]
    assert "<td>release</td>" not in page.split("did not run</h2>", 1)[1]  # blank answers still run
