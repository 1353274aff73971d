"""The written questions and each student's answers to them, read from notebooks (no code is run).

A written question is a graded Markdown answer cell of a source notebook in ``solutions/``
(``nbmeta.manually_graded``: q1c, q1d_written, q2c, ...). Its **text** is the nearest Markdown cell
before it that has no points (the ``-task`` cell, or the unlabelled heading in notebook 1); its
**key** is the answer cell's text between ``BEGIN SOLUTION`` and ``END SOLUTION``; its **rubric** is
the key's part from ``**Rubric`` on. When a key has no such part the key itself is the rubric.

In a submission the answer is the cell with the question's grade id (nbgrader keeps it). Its
**figures** are the ``image/png`` outputs of the code cells of its *section*: the code cells after
the previous written answer of the same notebook and before this one (every notebook puts the code
a written question is about right before it). When some of those cells carry a grade id of the
question itself (``q4b-logo`` for ``q4b-written``), only those count, so ``q4b-written`` shows the
filter logo and not Q4a's track plots that share its section.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a5kit import nbmeta
from a5kit.grader.safe_markdown import data_uri

STUB = "YOUR ANSWER HERE"  # nbgrader's text where a Markdown solution was
_SOLUTION = re.compile(r"### BEGIN SOLUTION\s*\n(.*?)\n?### END SOLUTION", re.S)
_RUBRIC = re.compile(r"^\*\*Rubric\b", re.M)


@dataclass(frozen=True)
class Question:
    """A written question as the instructor's source notebook states it."""

    id: str
    notebook: str  # the notebook's stem, e.g. 01_self_attention
    points: float
    text: str
    key: str
    rubric: str  # "" when the key has no rubric part (then the key is the rubric)


@dataclass
class Figure:
    """One figure a question's code cells produced: where it came from and its data URI."""

    cell: str  # the code cell's grade id, or "cell N" (1-based) without one
    uri: str


@dataclass
class Answer:
    """One student's answer to one question: its Markdown, attachments and figures, or why there is none."""

    status: str  # "answered", "empty", "no notebook", "no answer cell", "unreadable notebook"
    text: str = ""
    attachments: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    detail: str = ""


def split_key(answer_source: str) -> tuple[str, str]:
    """(key, rubric) of a source answer cell: the solution text, and its ``**Rubric`` part ("" if none)."""
    match = _SOLUTION.search(answer_source)
    key = (match.group(1) if match else answer_source).strip()
    rubric = _RUBRIC.search(key)
    return key, (key[rubric.start():].strip() if rubric else "")


def questions(solutions: Path) -> list[Question]:
    """Every written question of the notebooks in ``solutions``, in notebook and cell order."""
    found = []
    for path in sorted(Path(solutions).glob("*.ipynb")):
        cells = nbmeta.cells_of(path)
        for i, cell in enumerate(cells):
            m = nbmeta.meta(cell)
            if not (m.manually_graded and m.grade_id and m.cell_type == "markdown"):
                continue
            text = next((nbmeta.source(c) for c in reversed(cells[:i]) if c.get("cell_type") == "markdown" and not nbmeta.meta(c).grade), "")
            key, rubric = split_key(nbmeta.source(cell))
            found.append(Question(m.grade_id, path.stem, m.points or 0.0, text.strip(), key, rubric))
    if not found:
        raise FileNotFoundError(f"no written questions (graded Markdown answer cells) in {solutions}/*.ipynb: pass the instructor's solutions folder")
    return found


def is_empty(text: str) -> bool:
    """True when an answer is blank or still nbgrader's stub."""
    return text.strip() in ("", STUB)


def _figures(cells: list[Any], index: int, question: str) -> list[Figure]:
    """The PNG outputs of the code cells in ``question``'s section (see the module's docstring)."""
    start = max((i for i in range(index) if nbmeta.meta(cells[i]).manually_graded), default=-1) + 1
    code = [(i, c) for i, c in enumerate(cells[start:index], start) if c.get("cell_type") == "code"]
    own = nbmeta.question_of(question)
    mine = [(i, c) for i, c in code if own and nbmeta.meta(c).question == own]
    figures = []
    for i, cell in mine or code:
        for output in cell.get("outputs") or []:
            uri = data_uri("image/png", (output.get("data") or {}).get("image/png")) if isinstance(output, dict) else None
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
    attachments = cell.get("attachments") if isinstance(cell.get("attachments"), dict) else {}
    return Answer("empty" if is_empty(text) else "answered", text, attachments, _figures(cells, index, question))


def pseudonym(student: str, key: bytes) -> str:
    """A stable pseudonym of ``student`` under ``key``: ``student-`` and 8 hex digits of HMAC-SHA256."""
    return "student-" + hmac.new(key, student.encode("utf-8"), hashlib.sha256).hexdigest()[:8]


def blind_key(path: Path) -> bytes:
    """The pseudonym key kept in ``path`` (made once, readable only by its owner), so pseudonyms stay stable."""
    if path.exists():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError(f"{path} does not hold a pseudonym key (32+ hex digits): delete it to make a new one (pseudonyms then change)")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_text(key.hex() + "\n")
    return key
