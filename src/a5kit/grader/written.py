"""The written questions with their keys and rubrics, and the pseudonyms of blind grading (instructor only).

The questions, answers and figures are read as :mod:`a5kit.written_cells` reads them (the students'
PDF of written answers uses the same module). A question's **key** is the source answer cell's text
between ``BEGIN SOLUTION`` and ``END SOLUTION``; its **rubric** is the key's part from ``**Rubric`` on.
When a key has no such part the key itself is the rubric.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from a5kit import nbmeta
from a5kit.written_cells import STUB, Answer, Figure, WrittenCell, answer_in, is_empty, written_cells

__all__ = [
    "STUB",
    "Answer",
    "Figure",
    "Question",
    "answer_in",
    "blind_key",
    "is_empty",
    "pseudonym",
    "questions",
    "split_key",
]

_SOLUTION = re.compile(r"### BEGIN SOLUTION\s*\n(.*?)\n?### END SOLUTION", re.S)
_RUBRIC = re.compile(r"^\*\*Rubric\b", re.M)


@dataclass(frozen=True)
class Question(WrittenCell):
    """A written question as the instructor's source notebook states it: its cell's facts, its key and rubric."""

    key: str
    rubric: str  # "" when the key has no rubric part (then the key is the rubric)


def split_key(answer_source: str) -> tuple[str, str]:
    """(key, rubric) of a source answer cell: the solution text, and its ``**Rubric`` part ("" if none)."""
    match = _SOLUTION.search(answer_source)
    key = (match.group(1) if match else answer_source).strip()
    rubric = _RUBRIC.search(key)
    return key, (key[rubric.start() :].strip() if rubric else "")


def questions(solutions: Path) -> list[Question]:
    """Every written question of the notebooks in ``solutions``, in notebook and cell order."""
    found = []
    for path in sorted(Path(solutions).glob("*.ipynb")):
        cells = nbmeta.cells_of(path)
        for index, cell in written_cells({"cells": cells}, path.stem):
            key, rubric = split_key(nbmeta.source(cells[index]))
            found.append(Question(cell.id, cell.notebook, cell.points, cell.text, key, rubric))
    if not found:
        raise FileNotFoundError(
            f"no written questions (graded Markdown answer cells) in {solutions}/*.ipynb: pass the instructor's solutions folder"
        )
    return found


def pseudonym(student: str, key: bytes) -> str:
    """A stable pseudonym of ``student`` under ``key``: ``student-`` and 8 hex digits of HMAC-SHA256."""
    return "student-" + hmac.new(key, student.encode("utf-8"), hashlib.sha256).hexdigest()[:8]


def blind_key(path: Path) -> bytes:
    """The pseudonym key kept in ``path`` (made once, readable only by its owner), so pseudonyms stay stable."""
    if path.exists():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError(
                f"{path} does not hold a pseudonym key (32+ hex digits): delete it to make a new one (pseudonyms then change)"
            )
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.touch(mode=0o600)
    path.write_text(key.hex() + "\n")
    return key
