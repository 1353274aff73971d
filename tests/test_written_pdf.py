"""The students' PDF of written answers (:mod:`a5kit.written_pdf`): one page per written question, in a fixed order."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest

from a5kit import nbmeta, release, written_pdf
from a5kit.__main__ import main as a5kit_main

ROOT = Path(__file__).resolve().parents[1]
RELEASED = ROOT / "assignment5"
STEMS = ("01_self_attention", "02_dna_cnn", "03_enformer", "04_finetune")


def page_count(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf.read_bytes()))


def png(width: int = 40, height: int = 20) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / 10, height / 10), dpi=10)
    fig.add_subplot().plot([0, 1], [1, 0])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def student_notebook(stem: str, answers: dict[str, str] | None = None, figures_for: str | None = None) -> dict:
    """The released notebook ``stem`` (as a student gets it) with ``answers`` typed in and a figure in ``figures_for``'s cells."""
    notebook = json.loads((RELEASED / f"{stem}.ipynb").read_text())
    for cell in notebook["cells"]:
        grade_id = nbmeta.grade_id(cell)
        if answers and grade_id in answers:
            cell["source"] = answers[grade_id]
        if figures_for and cell["cell_type"] == "code" and nbmeta.meta(cell).question == figures_for:
            cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": png()}, "metadata": {}}]
    return notebook


def as_files(notebooks: dict[str, dict], prefix: str = "") -> dict[str, bytes]:
    return {f"{prefix}{stem}.ipynb": json.dumps(nb).encode() for stem, nb in notebooks.items()}


def test_the_question_list_is_generated_from_the_solutions_and_holds_no_key():
    """written_questions.json is what `make release` makes from solutions/: never stale, and task text only."""
    committed = json.loads(written_pdf.QUESTIONS_FILE.read_text())
    assert committed == release.written_questions(ROOT), (
        "run `make release EXAMPLE=1` and commit src/a5kit/written_questions.json"
    )
    assert [q["id"] for q in committed][:2] == ["q1c", "q1d_written"] and len(committed) == 11
    assert sum(q["points"] for q in committed) == 22
    text = json.dumps(committed)
    assert "BEGIN SOLUTION" not in text and "Rubric" not in text and "Model answer" not in text


def test_every_written_question_gets_its_page_in_order_whatever_the_submission_holds(tmp_path):
    """Fixed length: a missing notebook, an unreadable one or a deleted answer cell still gives its page, marked."""
    first = student_notebook("01_self_attention", {"q1c": "Shallow heads look at neighbours."})
    first["cells"] = [c for c in first["cells"] if nbmeta.grade_id(c) != "q1d_written"]
    files = {**as_files({"01_self_attention": first}), "02_dna_cnn.ipynb": b"{not json"}
    out, notes = written_pdf.build(files, tmp_path / "written.pdf")
    assert page_count(out) == 11
    pages = written_pdf.pages(written_pdf.read_notebooks(files)[0])
    assert [p.question.id for p in pages] == [q.id for q in written_pdf.questions()]
    assert [p.answer.status for p in pages[:5]] == [
        "answered",
        "no answer cell",
        "unreadable notebook",
        "unreadable notebook",
        "unreadable notebook",
    ]
    assert {p.answer.status for p in pages[5:]} == {"no notebook"}
    assert "page 2 (q1d_written): (no answer: the answer cell was deleted or its grade id changed)" in notes
    assert "02_dna_cnn.ipynb: not a notebook (it is not a JSON notebook)" in notes


def test_a_page_holds_the_answer_and_only_the_figures_of_its_own_question():
    """q4b-written shows the logo cells' figures (grade ids q4b-*), not Q4a's track plots in the same section."""
    notebook = student_notebook("03_enformer", {"q4b-written": "Filter 0 reads CACGTG."}, figures_for="q4b")
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code" and nbmeta.meta(cell).question == "q4a":
            cell["outputs"] = [{"output_type": "display_data", "data": {"image/png": png(80)}, "metadata": {}}]
    page = next(p for p in written_pdf.pages({"03_enformer": notebook}) if p.question.id == "q4b-written")
    own = sum(1 for c in notebook["cells"] if c["cell_type"] == "code" and nbmeta.meta(c).question == "q4b")
    assert page.answer.text == "Filter 0 reads CACGTG." and len(page.answer.figures) == own > 0
    assert all(f.png().startswith(b"\x89PNG") for f in page.answer.figures)


def test_an_answer_too_long_for_its_page_is_cut_and_the_student_told(tmp_path):
    notebook = student_notebook("04_finetune", {"q5d": "The held-out r rose. " * 900})
    out, notes = written_pdf.build(as_files({"04_finetune": notebook}), tmp_path / "written.pdf")
    assert page_count(out) == 11
    assert any(n.startswith("page 10 (q5d): ") and "did not fit; shorten it" in n for n in notes), notes


def test_dollars_backslashes_and_unicode_in_an_answer_are_drawn_as_typed(tmp_path):
    """No LaTeX is run: `$\\frac{` would make matplotlib's mathtext raise if it were parsed."""
    notebook = student_notebook("02_dna_cnn", {"q2c": "Cost $\\frac{1}{2}$ and $x_ — naïve 5′→3′ \\ end"})
    out, notes = written_pdf.build(as_files({"02_dna_cnn": notebook}), tmp_path / "written.pdf")
    assert page_count(out) == 11 and not any("q2c" in n for n in notes)


def test_the_template_has_every_page_with_no_answer_and_the_same_bytes_each_time(tmp_path):
    first, second = written_pdf.template(tmp_path / "a.pdf"), written_pdf.template(tmp_path / "b.pdf")
    assert page_count(first) == 11 and first.read_bytes() == second.read_bytes()
    assert {p.answer.status for p in written_pdf.pages(None)} == {"template"}


def test_the_command_reads_notebooks_with_colab_copy_names(tmp_path, capsys):
    for stem in STEMS:
        (tmp_path / f"Copy of {stem}.ipynb").write_text(json.dumps(student_notebook(stem, {"q1c": "Answered."})))
    (tmp_path / "notes.ipynb").write_text("{}")
    out = tmp_path / "mine.pdf"
    assert (
        a5kit_main(
            ["written-pdf", *map(str, sorted(tmp_path.glob("*.ipynb"))), "--out", str(out), "--student", "S. Tudent"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert page_count(out) == 11 and "11 pages, one per written question" in printed
    assert "notes.ipynb: not one of the assignment's notebooks" in printed
    assert "page 1 (q1c)" not in printed and "page 2 (q1d_written): (no answer: the answer cell is empty)" in printed


def test_the_command_without_notebooks_says_how_to_call_it(capsys):
    with pytest.raises(SystemExit) as stop:
        a5kit_main(["written-pdf"])
    assert stop.value.code == 2 and "python -m a5kit written-pdf *.ipynb" in capsys.readouterr().err


def test_nothing_is_made_while_the_autograder_runs(tmp_path, monkeypatch, capsys):
    """The grader re-runs every cell: a student who left the call in a cell must not get an upload prompt there."""
    monkeypatch.setenv("A5KIT_AUTOGRADER", "1")
    assert written_pdf.make_written_pdf(folder=tmp_path, out=tmp_path / "w.pdf") is None
    assert not (tmp_path / "w.pdf").exists() and "not made while the autograder runs" in capsys.readouterr().out


def test_the_student_package_ships_the_pdf_maker_and_its_question_list():
    shipped = {p.as_posix() for p in release.student_package_files(ROOT)}
    assert {"a5kit/written_pdf.py", "a5kit/written_cells.py", "a5kit/written_questions.json"} <= shipped
    assert "a5kit/grader/written.py" not in shipped  # the keys and rubrics stay with the instructor


def test_outside_colab_the_notebooks_are_read_from_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("A5KIT_AUTOGRADER", raising=False)
    for stem in STEMS:
        (tmp_path / f"{stem}.ipynb").write_text(json.dumps(student_notebook(stem)))
    out = written_pdf.make_written_pdf(folder=tmp_path, out=tmp_path / "written.pdf")
    assert out is not None and page_count(out) == 11
    assert "page 11 (q5e): (no answer: the answer cell is empty)" in capsys.readouterr().out


def test_a_file_that_is_json_but_not_a_notebook_gets_its_page_and_a_note(tmp_path):
    out, notes = written_pdf.build({"03_enformer.ipynb": b"[1, 2]"}, tmp_path / "written.pdf")
    assert page_count(out) == 11 and "03_enformer.ipynb: not a notebook (it is not a JSON notebook)" in notes
