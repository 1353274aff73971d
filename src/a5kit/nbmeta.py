"""nbgrader cell metadata, read in one place.

A source notebook in ``solutions/`` marks its cells the nbgrader way: ``metadata.nbgrader`` holds
``grade_id``, ``grade``, ``solution``, ``locked``, ``task`` and, on graded cells, ``points``.
Everything in the kit that needs those facts (which questions a notebook autogrades and for how
many points, which cell holds a solution, which question a cell belongs to) asks this module.
Cells may be nbformat nodes or plain dicts (a notebook read with :mod:`json`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_QUESTION = re.compile(r"^(q\d+[a-z]?)(?![a-z0-9])")


@dataclass(frozen=True)
class CellMeta:
    """One cell's nbgrader flags: what nbgrader itself reads."""

    grade_id: str | None = None
    grade: bool = False
    solution: bool = False
    locked: bool = False
    task: bool = False
    points: float | None = None
    cell_type: str = "code"

    @property
    def autograded(self) -> bool:
        """A grade cell with tests (code, graded, not a solution): an autograded question."""
        return self.cell_type == "code" and self.grade and not self.solution

    @property
    def manually_graded(self) -> bool:
        """A graded answer cell (a written answer): graded by a person, not by tests."""
        return self.grade and self.solution

    @property
    def question(self) -> str | None:
        """The question this cell belongs to: ``q2a`` for ``q2a``, ``q2a-solution``, ``q3b-written``, ``q1b_plot_attention``."""
        return question_of(self.grade_id)


def question_of(grade_id: str | None) -> str | None:
    """The question a grade id belongs to (``q3b-written`` -> ``q3b``), None for ``setup``, ``title``, ..."""
    if not grade_id:
        return None
    match = _QUESTION.match(grade_id)
    return match.group(1) if match else None


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    return mapping.get(key, default) if isinstance(mapping, Mapping) else default


def meta(cell: Any) -> CellMeta:
    """The nbgrader metadata of ``cell`` (all flags False when it has none)."""
    raw = _get(_get(cell, "metadata", {}), "nbgrader", {}) or {}
    points = _get(raw, "points")
    return CellMeta(
        grade_id=_get(raw, "grade_id"),
        grade=bool(_get(raw, "grade", False)),
        solution=bool(_get(raw, "solution", False)),
        locked=bool(_get(raw, "locked", False)),
        task=bool(_get(raw, "task", False)),
        points=None if points is None else float(points),
        cell_type=str(_get(cell, "cell_type", "code")),
    )


def grade_id(cell: Any) -> str | None:
    return meta(cell).grade_id


def is_solution(cell: Any) -> bool:
    return meta(cell).solution


def source(cell: Any) -> str:
    """A cell's source as one string (nbformat keeps a string, raw JSON may keep a list of lines)."""
    text = _get(cell, "source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def cells_of(notebook: Any) -> list[Any]:
    """The cells of a notebook given as a path, an nbformat node or a JSON dict."""
    if isinstance(notebook, (str, Path)):
        import nbformat

        notebook = nbformat.read(str(notebook), as_version=4)
    return list(_get(notebook, "cells", []))


def find(notebook: Any, wanted: str) -> Any:
    """The cell whose grade id is ``wanted``; KeyError if there is none."""
    for cell in cells_of(notebook):
        if grade_id(cell) == wanted:
            return cell
    raise KeyError(f"no cell with grade_id {wanted!r}")


def by_grade_id(notebook: Any) -> dict[str, Any]:
    """Every cell that has a grade id, by that id."""
    return {m.grade_id: c for c in cells_of(notebook) if (m := meta(c)).grade_id}


def autograded_questions(notebook: Any) -> list[str]:
    """The autograded questions of a source or release notebook, in order: its grade cells with tests."""
    return [m.grade_id for c in cells_of(notebook) if (m := meta(c)).autograded and m.grade_id]


def graded_points(notebook: Any, autograded: bool | None = None) -> dict[str, float]:
    """Points of every graded cell by grade id (``autograded``: True only tests, False only written answers)."""
    found = {}
    for cell in cells_of(notebook):
        m = meta(cell)
        if not m.grade or not m.grade_id or (autograded is not None and m.autograded != autograded):
            continue
        found[m.grade_id] = m.points if m.points is not None else 0.0
    return found


def notebook_points(paths: Iterable[Path], autograded: bool | None = True) -> dict[str, float]:
    """:func:`graded_points` of several notebooks together (question ids are unique across notebooks)."""
    points: dict[str, float] = {}
    for path in paths:
        points.update(graded_points(path, autograded))
    return points
