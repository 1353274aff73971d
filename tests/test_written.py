"""The written questions' pages and their points (issue 23): every student listed with the key and
points, nothing a student writes runs or loads anything, figures come from the question's own
cells, written.csv's merge refuses bad files one line per problem and never overwrites, and
pseudonyms stay stable. One test opens a page in headless Chromium when it is installed."""

from __future__ import annotations

import base64
import csv
import html
import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import ROOT

from a5kit import nbmeta
from a5kit.grader import batch, written, written_pages, written_scores

SOLUTIONS = ROOT / "solutions"
ATTACK = (
    "My answer. <script>document.title='PWNED'</script> **bold answer** [a link](https://evil.example/x) "
    "![outside](https://evil.example/p.png) <img src='https://evil.example/q.png' onerror=\"document.title='PWNED'\">\n\n"
    "<style>body{display:none}</style>\n\n![inside](attachment:own.png)"
)


def png(colour: int = 0) -> str:
    """A 2x2 grey PNG, base64 (a figure output or an attachment)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([colour, colour]) for _ in range(2))
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(data).decode()


def edit(path: Path, changes: dict) -> None:
    """Set cells of the notebook at ``path``: {grade id or cell index: (source or None, png outputs)}."""
    nb = json.loads(path.read_text())
    for where, (text, figures) in changes.items():
        cell = (
            nb["cells"][where]
            if isinstance(where, int)
            else next(c for c in nb["cells"] if nbmeta.grade_id(c) == where)
        )
        if text is not None:
            cell["source"] = text
        if figures:
            cell["outputs"] = [
                {"output_type": "display_data", "metadata": {}, "data": {"image/png": png(c), "text/plain": "<Figure>"}}
                for c in figures
            ]
    path.write_text(json.dumps(nb))


@pytest.fixture
def submissions(tmp_path: Path) -> Path:
    """alice answers q1c with an attack and has figures; bob submitted the blank release; carol only notebook 1."""
    folder = tmp_path / "subs"
    shutil.copytree(SOLUTIONS, folder / "alice")
    shutil.copytree(ROOT / "assignment5", folder / "bob")
    (folder / "carol").mkdir()
    shutil.copyfile(
        ROOT / "assignment5" / "01_self_attention.ipynb", folder / "carol" / "Copy of 01_self_attention.ipynb"
    )
    heatmaps = next(
        i
        for i, c in enumerate(nbmeta.cells_of(SOLUTIONS / "01_self_attention.ipynb"))
        if "plot_attention(attention" in nbmeta.source(c)
    )  # the q1b heatmaps, a cell without grade id
    edit(folder / "alice" / "01_self_attention.ipynb", {"q1c": (ATTACK, []), heatmaps: (None, [10, 20])})
    nb = json.loads((folder / "alice" / "01_self_attention.ipynb").read_text())
    next(c for c in nb["cells"] if nbmeta.grade_id(c) == "q1c")["attachments"] = {"own.png": {"image/png": png(200)}}
    (folder / "alice" / "01_self_attention.ipynb").write_text(json.dumps(nb))
    edit(folder / "alice" / "03_enformer.ipynb", {"q4a-plot": (None, [30]), "q4b-logo": (None, [40])})
    return folder


def pages(submissions: Path, out: Path, key: bytes | None = None) -> list[written.Question]:
    questions = written.questions(SOLUTIONS)
    written_pages.write_pages(sorted(submissions.iterdir()), questions, out, key)
    return questions


def test_written_questions_come_from_the_solutions_with_their_points_key_and_rubric():
    questions = written.questions(SOLUTIONS)
    expected = nbmeta.notebook_points(sorted(SOLUTIONS.glob("*.ipynb")), autograded=False)
    assert {q.id: q.points for q in questions} == expected and sum(expected.values()) == 22
    q1c = next(q for q in questions if q.id == "q1c")
    assert (
        q1c.text.startswith("## Q1c.")
        and "BEGIN SOLUTION" not in q1c.key
        and q1c.rubric.startswith("**Rubric (2 points)")
    )
    assert written.split_key("### BEGIN SOLUTION\nJust a key.\n### END SOLUTION") == ("Just a key.", "")


def test_every_page_lists_every_student_with_the_key_points_and_empty_answers(submissions, tmp_path):
    questions = pages(submissions, tmp_path / "written")
    index = (tmp_path / "written" / "index.html").read_text()
    for q in questions:
        text = (tmp_path / "written" / f"{q.id}.html").read_text()
        assert f"{q.points:g} points" in text and f"href='{q.id}.html'" in index
        for student in ("alice", "bob", "carol"):
            assert f"<h3 id='{student}'>" in text
        first_words = re.sub(r"[*`_]", "", q.key.split("\n")[0])[:25]
        assert html.escape(first_words, quote=False) in re.sub(r"<[^>]+>", "", text), q.id
        bob = text.split("<h3 id='bob'>")[1].split("</section>")[0]
        assert "no answer (blank or the unchanged stub)" in bob
        if q.notebook != "01_self_attention":
            assert "notebook not submitted" in text.split("<h3 id='carol'>")[1].split("</section>")[0]


def test_a_students_script_is_text_and_no_outside_image_is_loaded(submissions, tmp_path):
    pages(submissions, tmp_path / "written")
    text = (tmp_path / "written" / "q1c.html").read_text()
    alice = text.split("<h3 id='alice'>")[1].split("</section>")[0]
    assert "&lt;script&gt;document.title=" in alice and "<script" not in text.lower()
    assert "&lt;style&gt;" in alice and "<strong>bold answer</strong>" in alice
    assert "<a " not in alice and "https://evil.example/x" in alice  # the link is inert text
    sources = re.findall(r"<img[^>]*\ssrc='([^']*)'", alice)
    assert len(sources) == 3 and all(
        s.startswith("data:image/png;base64,") for s in sources
    )  # the attachment and 2 figures
    assert "evil.example" not in "".join(sources) and "onerror=" not in alice.replace("onerror=&quot;", "")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_figures_are_those_of_the_questions_own_code_cells(submissions, tmp_path):
    pages(submissions, tmp_path / "written")
    q4b = (tmp_path / "written" / "q4b-written.html").read_text().split("<h3 id='alice'>")[1].split("</section>")[0]
    assert q4b.count("<img") == 1 and "output of q4b-logo" in q4b  # q4a's plot shares the section but is not q4b's
    q1c = (tmp_path / "written" / "q1c.html").read_text().split("<h3 id='alice'>")[1].split("</section>")[0]
    assert q1c.count("<figure>") == 2  # the heatmaps of the cell without grade id in q1c's section
    q1d = (tmp_path / "written" / "q1d_written.html").read_text().split("<h3 id='alice'>")[1].split("</section>")[0]
    assert "<figure>" not in q1d


def test_pseudonyms_are_stable_and_hide_names(submissions, tmp_path):
    key = written.blind_key(tmp_path / "grades" / "blind.key")
    assert written.blind_key(tmp_path / "grades" / "blind.key") == key  # read back, not remade
    assert written.pseudonym("alice", key) == written.pseudonym("alice", key) != written.pseudonym("bob", key)
    assert written.pseudonym("alice", key) != written.pseudonym("alice", b"another key of 16+ bytes")
    assert (tmp_path / "grades" / "blind.key").stat().st_mode & 0o077 == 0
    pages(submissions, tmp_path / "written", key)
    text = (tmp_path / "written" / "q2c.html").read_text()
    assert "alice" not in text and "bob" not in text and written.pseudonym("carol", key) in text


# -- written.csv ----------------------------------------------------------------------------------------


@pytest.fixture
def grades(tmp_path: Path) -> Path:
    """A grades folder as make grade writes it, for three students, with the written.csv template."""
    out = tmp_path / "grades"
    out.mkdir()
    with (out / "grades.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [
                ["student", "total", "q1a", "notes"],
                ["(max)", "4", "4", ""],
                ["alice", "4", "4", ""],
                ["bob", "0", "0", ""],
                ["carol", "2", "2", "runner crashed (exit 1)"],
            ]
        )
    written_scores.write_template(out, ["alice", "bob", "carol"], written.questions(SOLUTIONS))
    return out


def fill(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_the_template_has_a_row_per_student_and_a_column_per_question_and_is_never_replaced(grades):
    rows = list(csv.reader((grades / "written.csv").open()))
    assert rows[0] == ["student", *(q.id for q in written.questions(SOLUTIONS))]
    assert [r[0] for r in rows[1:]] == ["(max)", "alice", "bob", "carol"] and all(
        c == "" for r in rows[2:] for c in r[1:]
    )
    fill(grades / "written.csv", [["student", "q1c"], ["alice", "1"]])
    assert written_scores.write_template(grades, ["alice"], written.questions(SOLUTIONS)) is None
    assert (grades / "written.csv").read_text().startswith("student,q1c\n")


def test_merge_adds_the_points_and_never_overwrites(grades):
    fill(grades / "written.csv", [["student", "q1c", "q6-written"], ["alice", "2", "2.5"], ["bob", "0", ""]])
    before = (grades / "grades.csv").read_text()
    first, report, empty = written_scores.merge(grades, grades / "written.csv")
    rows = {r[0]: r for r in csv.reader(first.open())}
    header = next(iter(csv.reader(first.open())))
    assert header[:3] == ["student", "total", "q1a"] and header[-1] == "notes" and "q5e" in header
    assert rows["alice"][1] == "8.5" and rows["(max)"][1] == "26" and rows["bob"][header.index("q1c")] == "0"
    assert "written not graded yet" in rows["carol"][-1] and "runner crashed" in rows["carol"][-1]
    assert empty == 9 + 10 + 11 and report.exists() and "q6-written" in report.read_text()
    second, report2, _ = written_scores.merge(grades, grades / "written.csv")
    assert second.name == "grades-with-written-2.csv" and report2.name == "report-with-written-2.html"
    assert (grades / "grades.csv").read_text() == before and first.read_text() == second.read_text()


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["student", "q1c"], ["alice", "3"]], "alice q1c = 3 is above the question's 2 points"),
        ([["student", "q1c"], ["mallory", "1"]], "unknown student 'mallory'"),
        ([["student", "q9z"], ["alice", "1"]], "unknown question 'q9z'"),
        ([["student", "q1c"], ["alice", "1", "2"]], "malformed: 3 cells where the header has 2"),
        ([["name", "q1c"], ["alice", "1"]], "malformed: the first row must be the header"),
        ([["student", "q1c"], ["alice", "two"]], "alice q1c = 'two' is not a number"),
        ([["student", "q1c"], ["alice", "-1"]], "must be from 0 to 2"),
        ([["student", "q1c"], ["alice", "1"], ["alice", "2"]], "student 'alice' appears twice"),
    ],
)
def test_merge_refuses_a_bad_file_with_one_line_and_writes_nothing(grades, rows, message, capsys):
    fill(grades / "written.csv", rows)
    assert batch.main(["merge-written", "--grades", str(grades)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and message in err[0] and "nothing written" in err[1]
    assert not list(grades.glob("*with-written*"))


def test_every_problem_is_listed_at_once(grades):
    fill(grades / "written.csv", [["student", "q1c", "q2c"], ["alice", "5", "9"], ["zed", "1", "1"]])
    with pytest.raises(written_scores.MergeError) as err:
        written_scores.merge(grades, grades / "written.csv")
    assert len(err.value.lines) == 3


def test_a_blind_template_names_pseudonyms_and_merges_back_to_names(tmp_path):
    out = tmp_path / "grades"
    out.mkdir()
    fill(
        out / "grades.csv",
        [["student", "total", "q1a", "notes"], ["(max)", "4", "4", ""], ["alice", "4", "4", ""], ["bob", "1", "1", ""]],
    )
    written_scores.write_template(out, ["alice", "bob"], written.questions(SOLUTIONS), blind=True)
    key = written.blind_key(out / "blind.key")
    rows = list(csv.reader((out / "written.csv").open()))
    assert {r[0] for r in rows[2:]} == {written.pseudonym("alice", key), written.pseudonym("bob", key)}
    fill(out / "written.csv", [["student", "q1c"], [written.pseudonym("bob", key), "2"]])
    merged, _, _ = written_scores.merge(out, out / "written.csv")
    assert {r[0]: r[1] for r in csv.reader(merged.open())}["bob"] == "3"


# -- a real browser -------------------------------------------------------------------------------------


def test_a_page_in_headless_chromium_shows_every_figure_and_runs_no_script(submissions, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on this machine (Debian: `apt-get install -y chromium`)")
    pages(submissions, tmp_path / "written")
    page = tmp_path / "written" / "q1c.html"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    assert "<title>q1c: written answers</title>" in dom, result.stderr[-2000:]
    assert "PWNED" not in dom.split("</head>")[0]
    images = re.findall(r"<img[^>]*>", dom)
    assert len(images) == 3 and all(
        "data:image/png;base64," in img for img in images
    )  # alice's attachment and 2 figures


# -- make grade ------------------------------------------------------------------------------------------


def test_make_grade_writes_the_pages_and_the_template_and_merges_written_csv(
    tmp_path, submissions, monkeypatch, capsys
):
    from test_batch import make_autograder

    from a5kit.grader import isolation

    autograder = make_autograder(tmp_path / "autograder", tmp_path / "no-cache")  # no runner starts a kernel here
    monkeypatch.setattr(batch, "runner_command", lambda *args, **kwargs: [sys.executable, "-c", "pass"])
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    out = tmp_path / "grades"
    args = [
        str(submissions),
        "--autograder",
        str(autograder),
        "--out",
        str(out),
        "--unsafe-as-me",
        "--solutions",
        str(SOLUTIONS),
    ]
    batch.main([*args, "--blind"])
    key = written.blind_key(out / "blind.key")
    assert (out / "written" / "index.html").exists() and (out / "written" / "q5e.html").exists()
    assert (
        "alice" not in (out / "written" / "q1c.html").read_text()
        and written.pseudonym("alice", key) in (out / "written.csv").read_text()
    )
    fill(out / "filled.csv", [["student", "q1c"], [written.pseudonym("alice", key), "1.5"]])
    capsys.readouterr()
    batch.main([*args, "--blind", "--written", str(out / "filled.csv")])
    assert "grades-with-written.csv" in capsys.readouterr().out
    rows = {r[0]: r for r in csv.reader((out / "grades-with-written.csv").open())}
    assert rows["alice"][rows["student"].index("q1c")] == "1.5"
