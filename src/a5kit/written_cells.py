"""The written questions of a notebook and a student's answers to them, read from the notebook JSON (no code is run).

Shared by the instructor's grading pages (:mod:`a5kit.grader.written`) and the students' PDF of their
written answers (:mod:`a5kit.written_pdf`), so both see the same question, answer and figures.

A written question is a graded Markdown answer cell (nbgrader ``manually graded``: q1c, q1d_written,
q2c, ...). Its **text** is the nearest Markdown cell before it that has no points (the ``-task``
cell, or the unlabelled heading in notebook 1). In a submission the answer is the cell with the
question's grade id (nbgrader keeps it). Its **figures** are the ``image/png`` outputs of the code
cells of its *section*: the code cells after the previous written answer of the same notebook and
before this one (every notebook puts the code a written question is about right before it). When
some of those cells carry a grade id of the question itself (``q4b-logo`` for ``q4b-written``), only
those count, so ``q4b-written`` shows the filter logo and not Q4a's track plots that share its section.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from a5kit import nbmeta
from a5kit.grader.safe_markdown import data_uri

STUB = "YOUR ANSWER HERE"  # nbgrader's text where a Markdown solution was


@dataclass(frozen=True)
class WrittenCell:
    """A written question as a notebook states it: its grade id, notebook stem, points and task text."""

    id: str
    notebook: str  # the notebook's stem, e.g. 01_self_attention
    points: float
    text: str


@dataclass
class Figure:
    """One figure a question's code cells produced: where it came from and its data URI."""

    cell: str  # the code cell's grade id, or "cell N" (1-based) without one
    uri: str

    def png(self) -> bytes:
        """The figure's PNG bytes."""
        return base64.b64decode(self.uri.split(",", 1)[1])


@dataclass
class Answer:
    """One student's answer to one question: its Markdown, attachments and figures, or why there is none."""

    status: str  # "answered", "empty", "no notebook", "no answer cell", "unreadable notebook"
    text: str = ""
    attachments: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    detail: str = ""


def written_cells(notebook: Any, stem: str) -> list[tuple[int, WrittenCell]]:
    """(cell index, question) of every written question of ``notebook`` (a path or JSON dict), in cell order."""
    cells = nbmeta.cells_of(notebook)
    found = []
    for i, cell in enumerate(cells):
        m = nbmeta.meta(cell)
        if not (m.manually_graded and m.grade_id and m.cell_type == "markdown"):
            continue
        text = next(
            (
                nbmeta.source(c)
                for c in reversed(cells[:i])
                if c.get("cell_type") == "markdown" and not nbmeta.meta(c).grade
            ),
            "",
        )
        found.append((i, WrittenCell(m.grade_id, stem, m.points or 0.0, text.strip())))
    return found


def is_empty(text: str) -> bool:
    """True when an answer is blank or still nbgrader's stub."""
    return text.strip() in ("", STUB)


def section_figures(cells: list[Any], index: int, question: str) -> list[Figure]:
    """The PNG outputs of the code cells in ``question``'s section (see the module's docstring)."""
    start = max((i for i in range(index) if nbmeta.meta(cells[i]).manually_graded), default=-1) + 1
    code = [(i, c) for i, c in enumerate(cells[start:index], start) if c.get("cell_type") == "code"]
    own = nbmeta.question_of(question)
    mine = [(i, c) for i, c in code if own and nbmeta.meta(c).question == own]
    figures = []
    for i, cell in mine or code:
        for output in cell.get("outputs") or []:
            uri = (
                data_uri("image/png", (output.get("data") or {}).get("image/png")) if isinstance(output, dict) else None
            )
            if uri:
                figures.append(Figure(nbmeta.grade_id(cell) or f"cell {i + 1}", uri))
    return figures


def answer_in(notebook: dict | None, question: str, problem: str = "") -> Answer:
    """The answer to ``question`` in a submitted notebook (a JSON dict), with its section's figures."""
    if notebook is None:
        return Answer("unreadable notebook" if problem else "no notebook", detail=problem)
    cells = [c for c in notebook.get("cells", []) if isinstance(c, dict)]
    index = next((i for i, c in enumerate(cells) if nbmeta.grade_id(c) == question), None)
    if index is None:
        return Answer("no answer cell", detail=f"no cell with grade id {question} (deleted, or pasted into a new cell)")
    cell = cells[index]
    text = nbmeta.source(cell)
    attachments = cell.get("attachments")
    if not isinstance(attachments, dict):
        attachments = {}
    return Answer("empty" if is_empty(text) else "answered", text, attachments, section_figures(cells, index, question))
