"""A PDF of a student's written answers for a Gradescope PDF assignment: one page per written question, in a fixed order.

Graders of a Gradescope *Homework / Problem Set* grade question by question on the pages a student
assigned to each question. This PDF makes that assignment trivial: page *k* is written question *k*
of :data:`QUESTIONS_FILE` (made by ``make release`` from the instructor's notebooks), whatever the
student deleted or left empty. A page holds the question's id, points and task text, the student's
Markdown answer (as typed: no LaTeX is needed or run) and the figures its code cells produced in the
submitted notebook (:mod:`a5kit.written_cells`, as on the instructor's pages). ``make release``
writes the blank template (``dist/written-template.pdf``) that the Gradescope assignment is made from.

Students call :func:`make_written_pdf` once, after downloading their four notebooks; in Colab it asks
for them with an upload button, elsewhere it reads them from a folder. ``python -m a5kit
written-pdf NOTEBOOK...`` does the same from a shell.
"""

from __future__ import annotations

import functools
import io
import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from a5kit import config
from a5kit.grader.intake import notebook_stem
from a5kit.written_cells import Answer, WrittenCell, answer_in

QUESTIONS_FILE = Path(__file__).with_name("written_questions.json")
PAGE_INCHES = (8.5, 11.0)  # US Letter, Gradescope's default page
MARGIN = 0.6  # inches
TASK_LINES = 18  # the task text is a reminder: longer tasks are cut (the notebook has them whole)
ANSWER_POINTS = (10.0, 9.0, 8.0, 7.0)  # font sizes tried, largest first, until the answer fits its space
MISSING = {
    "empty": "(no answer: the answer cell is empty)",
    "no notebook": "(no answer: this notebook was not given)",
    "no answer cell": "(no answer: the answer cell was deleted or its grade id changed)",
    "unreadable notebook": "(no answer: the notebook could not be read)",
}


@dataclass
class Page:
    """What one page shows: a question, and the answer (and figures) to it; ``cut`` lines of the answer did not fit."""

    question: WrittenCell
    answer: Answer
    cut: int = 0


@functools.cache
def questions() -> tuple[WrittenCell, ...]:
    """The written questions in page order, as ``make release`` recorded them from the instructor's notebooks (read once)."""
    try:
        rows = json.loads(QUESTIONS_FILE.read_text())
    except (OSError, ValueError) as err:
        raise RuntimeError(f"cannot read {QUESTIONS_FILE} ({err}): reinstall the course package") from None
    return tuple(WrittenCell(r["id"], r["notebook"], float(r["points"]), r["text"]) for r in rows)


def read_notebooks(files: Mapping[str, bytes]) -> tuple[dict[str, dict | None], list[str]]:
    """The submitted notebooks by stem (None: unreadable) from ``{file name: bytes}``, and notes on files not used."""
    stems = sorted({q.notebook for q in questions()})
    found: dict[str, dict | None] = {}
    notes = []
    for name, data in sorted(files.items()):
        stem = notebook_stem(Path(name).name, stems)
        if stem is None:
            notes.append(f"{name}: not one of the assignment's notebooks ({', '.join(stems)}); not used")
            continue
        try:
            notebook = json.loads(data)
        except ValueError:
            notebook = None
        found[stem] = notebook if isinstance(notebook, dict) else None
        if found[stem] is None:
            notes.append(f"{name}: not a notebook (it is not a JSON notebook)")
    return found, notes


def pages(notebooks: Mapping[str, dict | None] | None) -> list[Page]:
    """One page per written question; ``notebooks`` None gives the blank template."""
    result = []
    for question in questions():
        if notebooks is None:
            answer = Answer("template")
        elif question.notebook not in notebooks:
            answer = Answer("no notebook")
        elif notebooks[question.notebook] is None:
            answer = Answer("unreadable notebook", detail="not JSON")
        else:
            answer = answer_in(notebooks[question.notebook], question.id)
        result.append(Page(question, answer))
    return result


def _missing(status: str) -> str:
    """What a page says instead of an answer."""
    return MISSING.get(status, f"(no answer: {status})")


def _plain(text: str) -> str:
    """Text as matplotlib draws it literally: a ``$`` would start mathtext."""
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _wrap(text: str, points: float, width_inches: float) -> list[str]:
    """``text`` wrapped to lines that fit ``width_inches`` at ``points`` (DejaVu Sans averages under 0.6 em per character)."""
    columns = max(20, int(width_inches * 72 / (points * 0.6)))
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, columns, replace_whitespace=False, drop_whitespace=True) or [""])
    return lines


def _draw(page: Page, number: int, total: int, student: str) -> Any:
    """The matplotlib figure of one page (text from the top, figures below the answer)."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    width, height = PAGE_INCHES
    fig = Figure(figsize=PAGE_INCHES)
    inner = width - 2 * MARGIN
    y = height - MARGIN  # inches from the bottom; text goes down from here

    def put(lines: list[str], points: float, **style: Any) -> None:
        nonlocal y
        for line in lines:
            y -= points * 1.3 / 72
            fig.text(MARGIN / width, y / height, _plain(line), fontsize=points, va="baseline", ha="left", **style)

    q = page.question
    head = f"{q.id}  ({q.points:g} point{'s' if q.points != 1 else ''})  ·  notebook {q.notebook}"
    put([head], 13, weight="bold")
    put([f"page {number} of {total}" + (f"  ·  {student}" if student else "")], 8, color="0.4")
    task = _wrap(q.text, 8, inner)
    if len(task) > TASK_LINES:
        task = [*task[: TASK_LINES - 1], "[… the rest of the task is in the notebook]"]
    y -= 0.08
    put(task, 8, color="0.3")
    y -= 0.15
    fig.add_artist(_rule(fig, y))
    y -= 0.1

    answer = page.answer
    figures = answer.figures
    figure_space = min(4.5, 0.45 * (y - MARGIN)) if figures else 0.0
    room = y - MARGIN - figure_space
    if answer.status == "template":
        put(["Answer:"], 10, weight="bold")
        y = MARGIN + figure_space
    elif answer.status != "answered":
        put([_missing(answer.status)], 10, style="italic")
    else:
        for points in ANSWER_POINTS:
            lines = _wrap(answer.text.strip(), points, inner)
            if len(lines) * points * 1.3 / 72 <= room or points == ANSWER_POINTS[-1]:
                break
        fits = int(room * 72 / (points * 1.3))
        if len(lines) > fits:
            page.cut = len(lines) - (fits - 1)
            lines = [*lines[: fits - 1], f"[… {page.cut} more lines did not fit on this page: shorten the answer]"]
        put(lines, points)
    if figures:
        bottom = MARGIN
        top = y - 0.15
        columns = 1 if len(figures) == 1 else 2
        rows = -(-len(figures) // columns)
        cell_w, cell_h = inner / columns, (top - bottom) / rows
        for k, figure in enumerate(figures):
            row, col = divmod(k, columns)
            ax = fig.add_axes(
                (
                    (MARGIN + col * cell_w) / width,
                    (top - (row + 1) * cell_h) / height,
                    cell_w * 0.97 / width,
                    cell_h * 0.95 / height,
                )
            )
            ax.imshow(mpimg.imread(io.BytesIO(figure.png()), format="png"))
            ax.set_axis_off()
    return fig


def _rule(fig: Any, y: float) -> Any:
    from matplotlib.lines import Line2D

    width, height = PAGE_INCHES
    return Line2D(
        [MARGIN / width, 1 - MARGIN / width], [y / height] * 2, transform=fig.transFigure, color="0.6", linewidth=0.6
    )


def render(page_list: list[Page], out: Path, student: str = "") -> Path:
    """Write ``page_list`` to the PDF ``out``, one page each (no creation date: the same pages give the same bytes)."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with PdfPages(out, metadata={"Title": "Assignment 5: written answers", "CreationDate": None}) as pdf:
        for number, page in enumerate(page_list, 1):
            pdf.savefig(_draw(page, number, len(page_list), student))
    return out


def template(out: Path) -> Path:
    """The blank template of the Gradescope assignment: every question's page with an empty answer."""
    return render(pages(None), out)


def summary(page_list: list[Page]) -> list[str]:
    """One line per page a student should look at: missing answers and answers that were cut."""
    lines = []
    for number, page in enumerate(page_list, 1):
        if page.answer.status not in ("answered", "template"):
            lines.append(f"page {number} ({page.question.id}): {_missing(page.answer.status)}")
        elif page.cut:
            lines.append(f"page {number} ({page.question.id}): {page.cut} lines of the answer did not fit; shorten it")
    return lines


def build(files: Mapping[str, bytes], out: Path, student: str = "") -> tuple[Path, list[str]]:
    """The PDF of the written answers in the notebooks ``files`` ({name: bytes}), and what the student should check."""
    notebooks, notes = read_notebooks(files)
    page_list = pages(notebooks)
    return render(page_list, out, student), notes + summary(page_list)


def _report(path: Path, notes: list[str]) -> Path:
    """Tell the student what was written and which pages to look at."""
    print(f"wrote {path}: {len(questions())} pages, one per written question, in order")
    for note in notes:
        print("  check:", note)
    return path


def _in_colab() -> bool:
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def make_written_pdf(
    folder: str | Path = ".", out: str | Path = "written_answers.pdf", student: str = ""
) -> Path | None:
    """Make the PDF of your written answers from your four notebooks (run them and save them first).

    In Colab it shows an upload button: choose the four ``.ipynb`` files you downloaded; the PDF is
    then downloaded. Elsewhere it reads the notebooks in ``folder``. ``student`` (optional) is printed
    at the top of every page.
    """
    if config.under_autograder():
        print("make_written_pdf: not made while the autograder runs")
        return None
    if _in_colab():
        from google.colab import files as colab_files

        print("Choose your four downloaded notebooks (.ipynb), all at once:")
        chosen = colab_files.upload()
    else:
        chosen = {path.name: path.read_bytes() for path in sorted(Path(folder).glob("*.ipynb"))}
    path = _report(*build(chosen, Path(out), student))
    if _in_colab():
        colab_files.download(str(path))
    return path


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m a5kit written-pdf NOTEBOOK... [--out F] [--student NAME] | --template F``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m a5kit written-pdf", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="your notebooks (.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("written_answers.pdf"))
    parser.add_argument("--student", default="", help="a name or id printed on every page")
    parser.add_argument("--template", action="store_true", help="write the blank template instead")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.template:
        print(f"wrote {template(args.out)}")
        return 0
    if not args.notebooks:
        parser.error("give your notebooks, e.g. python -m a5kit written-pdf *.ipynb")
    missing = [str(p) for p in args.notebooks if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    _report(*build({p.name: p.read_bytes() for p in args.notebooks}, args.out, args.student))
    return 0
