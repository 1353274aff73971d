"""grader.json: the one list of notebooks, questions, points, limits and visibility at grading time.

``make autograder`` writes it (:func:`from_sources` reads the nbgrader source notebooks in
``solutions/`` and the questions' test modules); the runner, ``make grade``, ``make bench`` and
``setup.sh`` read it only through :func:`load`, which checks it against ``grader.schema.json``
(next to this module) and the facts a schema cannot say (unique names, points that add up).

    python -m a5kit.grader.settings GRADER_JSON            # check it and print a summary
    python -m a5kit.grader.settings GRADER_JSON --get user  # one top-level value (setup.sh)

Adding a question or a notebook needs no edit here: its nbgrader grade cell, its public check
module ``a5kit/public_checks/<q>.py`` and its hidden test module ``autograder/tests/<q>.py`` are enough.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from a5kit import nbmeta
from a5kit.grader.results import HIDDEN_VISIBILITY, VISIBILITIES

SCHEMA_PATH = Path(__file__).with_name("grader.schema.json")
STUDENT_USER = "a5student"  # the unprivileged user setup.sh creates; notebooks run as it
KERNEL_MEMORY_MB = 1500  # the watchdog kills the student's processes above this resident size
KERNEL_DISK_MB = 1024  # all files of the student's user at most this large

__all__ = [
    "HIDDEN_VISIBILITY",
    "KERNEL_DISK_MB",
    "KERNEL_MEMORY_MB",
    "STUDENT_USER",
    "VISIBILITIES",
    "Limits",
    "Notebook",
    "Question",
    "Settings",
    "SettingsError",
    "from_sources",
    "load",
    "schema",
    "source_notebooks",
    "validate",
]


class SettingsError(ValueError):
    """grader.json (or the sources it is built from) is not what the grader can use; the message says why."""


@dataclass(frozen=True)
class Limits:
    """Seconds: one cell, one question's calls, the whole submission, and the hard stop (Gradescope allows 600).

    Each notebook gets an equal share of what is left of ``total`` when it starts (time a notebook
    does not use goes to the next); its cells, restarts and re-runs may use ``cells_share`` of it,
    so its questions always get the rest. At ``deadline`` seconds the trusted process writes
    results.json with what it has, whatever it is waiting for, and exits.
    """

    cell: float = 60.0
    question: float = 90.0
    total: float = 420.0
    deadline: float = 540.0
    cells_share: float = 0.75


@dataclass(frozen=True)
class Question:
    """An autograded question: ``points`` from its nbgrader grade cell, split into public and hidden cases."""

    id: str
    points: float
    public_points: float | None = None
    hidden_points: float | None = None


@dataclass(frozen=True)
class Notebook:
    """One notebook of the assignment (``name`` is its file stem) and its autograded questions, in order."""

    name: str
    questions: tuple[Question, ...] = ()

    @property
    def question_ids(self) -> list[str]:
        return [q.id for q in self.questions]


@dataclass(frozen=True)
class Settings:
    """The content of grader.json, typed."""

    notebooks: tuple[Notebook, ...]
    limits: Limits = field(default_factory=Limits)
    hidden_visibility: str = HIDDEN_VISIBILITY
    user: str = ""  # "" = the grader's own user; `make autograder` writes STUDENT_USER
    kernel_memory_mb: int = KERNEL_MEMORY_MB
    kernel_disk_mb: int = KERNEL_DISK_MB
    cache: str | None = None  # what the cache holds, for people
    tiny_cache: bool | None = None
    hidden_seed: str | None = None  # how the hidden seed was chosen, never its value

    @property
    def notebook_names(self) -> tuple[str, ...]:
        """Every notebook a submission is searched for, in grading order."""
        return tuple(n.name for n in self.notebooks)

    @property
    def questions(self) -> dict[str, list[str]]:
        """Notebook name -> its autograded question ids, in order (notebooks without questions included)."""
        return {n.name: n.question_ids for n in self.notebooks}

    @property
    def question_ids(self) -> list[str]:
        return [q.id for n in self.notebooks for q in n.questions]

    def question(self, question_id: str) -> Question:
        for notebook in self.notebooks:
            for q in notebook.questions:
                if q.id == question_id:
                    return q
        raise KeyError(f"no question {question_id!r} in grader.json")

    @property
    def points(self) -> dict[str, float]:
        """Question id -> its points."""
        return {q.id: q.points for n in self.notebooks for q in n.questions}

    @property
    def total_points(self) -> float:
        return sum(self.points.values())

    def to_dict(self) -> dict[str, Any]:
        """The grader.json document (optional fields left out when unset)."""
        doc: dict[str, Any] = {
            "notebooks": [
                {
                    "name": n.name,
                    "questions": [{k: v for k, v in asdict(q).items() if v is not None} for q in n.questions],
                }
                for n in self.notebooks
            ],
            "limits": asdict(self.limits),
            "hidden_visibility": self.hidden_visibility,
            "user": self.user,
            "kernel_memory_mb": self.kernel_memory_mb,
            "kernel_disk_mb": self.kernel_disk_mb,
        }
        for key in ("cache", "tiny_cache", "hidden_seed"):
            if getattr(self, key) is not None:
                doc[key] = getattr(self, key)
        validate(doc)
        return doc

    def write(self, path: Path) -> Path:
        """Write grader.json (validated first)."""
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """grader.schema.json, the JSON Schema every grader.json must meet."""
    return json.loads(SCHEMA_PATH.read_text())


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def validate(doc: Any) -> None:
    """Raise :class:`SettingsError` naming each problem of a grader.json document."""
    validator = jsonschema.Draft202012Validator(schema())
    problems = [
        f"{_where(e)}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    ]
    if not problems:
        names = [n["name"] for n in doc["notebooks"]]
        ids = [q["id"] for n in doc["notebooks"] for q in n["questions"]]
        problems += [f"notebook {name!r} is listed twice" for name in sorted({n for n in names if names.count(n) > 1})]
        problems += [f"question {q!r} is listed twice" for q in sorted({q for q in ids if ids.count(q) > 1})]
        for n in doc["notebooks"]:
            for q in n["questions"]:
                parts = [q.get("public_points"), q.get("hidden_points")]
                if None not in parts and not math.isclose(sum(parts), q["points"], abs_tol=1e-9):
                    problems.append(
                        f"{n['name']}/{q['id']}: public ({parts[0]:g}) and hidden ({parts[1]:g}) points do not add up to "
                        f"its {q['points']:g} points"
                    )
    if problems:
        raise SettingsError("grader.json is not valid:\n" + "\n".join(f"  - {p}" for p in problems))


def from_dict(doc: Any) -> Settings:
    """Settings from a grader.json document; :class:`SettingsError` if it is not valid."""
    validate(doc)
    notebooks = tuple(Notebook(n["name"], tuple(Question(**q) for q in n["questions"])) for n in doc["notebooks"])
    known = {f.name for f in fields(Settings)} - {"notebooks", "limits"}
    extra = {k: v for k, v in doc.items() if k in known}
    return Settings(notebooks=notebooks, limits=Limits(**doc.get("limits", {})), **extra)


def load(path: Path | str) -> Settings:
    """Read and check grader.json; :class:`SettingsError` says what is wrong (a missing file or invalid JSON too)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as err:
        raise SettingsError(
            f"cannot read {path}: {err.strerror or err}; rebuild the autograder with `make autograder`"
        ) from None
    except ValueError as err:
        raise SettingsError(f"{path} is not JSON ({err}); rebuild the autograder with `make autograder`") from None
    try:
        return from_dict(doc)
    except SettingsError as err:
        raise SettingsError(str(err).replace("grader.json is not valid", f"{path} is not valid", 1)) from None


def _question(question: str, points: float, hidden_dir: Path | None, notebook: str) -> Question:
    """One autograded question with its points checked against its test modules."""
    from a5kit.checking.core import load_cases

    try:
        cases = load_cases(question, hidden_dir)
    except KeyError:
        raise SettingsError(
            f"{notebook}.ipynb: question {question} has a grade cell but no public check module "
            f"a5kit/public_checks/{question}.py (src/a5kit/public_checks/{question}.py); add one, even with no cases"
        ) from None
    public = sum(c.points for c in cases if not c.hidden)
    hidden = sum(c.points for c in cases if c.hidden)
    if hidden_dir is not None and not math.isclose(public + hidden, points, abs_tol=1e-9):
        raise SettingsError(
            f"{notebook}.ipynb: question {question} is worth {points:g} points in its nbgrader grade cell, but its "
            f"tests add up to {public + hidden:g} (public {public:g} in a5kit/public_checks/{question}.py, hidden "
            f"{hidden:g} in {hidden_dir.name}/{question}.py)"
        )
    return Question(question, points, public, hidden if hidden_dir is not None else None)


def source_notebooks(root: Path) -> list[Path]:
    """The nbgrader source notebooks of a repository: ``root/solutions/*.ipynb``, in grading order (by name)."""
    return sorted((Path(root) / "solutions").glob("*.ipynb"))


def from_sources(notebooks: Iterable[Path], hidden_dir: Path | None = None, **options: Any) -> Settings:
    """Settings from nbgrader source notebooks: their autograded grade cells, points checked against the tests.

    With ``hidden_dir`` (``autograder/tests``) every question's public and hidden case points must add up
    to its grade cell's points; ``options`` are the other :class:`Settings` fields.
    """
    built = []
    for path in notebooks:
        points = nbmeta.graded_points(path, autograded=True)
        built.append(
            Notebook(
                path.stem,
                tuple(_question(q, points[q], hidden_dir, path.stem) for q in nbmeta.autograded_questions(path)),
            )
        )
    settings = Settings(notebooks=tuple(built), **options)
    settings.to_dict()  # validated: unique names, points that add up
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m a5kit.grader.settings", description="check grader.json; print a summary or one value"
    )
    parser.add_argument("path", type=Path)
    parser.add_argument(
        "--get", metavar="KEY", help="print one top-level value (user, kernel_memory_mb, hidden_visibility, ...)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load(args.path)
    except SettingsError as err:
        print(err, file=sys.stderr)
        return 1
    if args.get:
        value = settings.to_dict().get(args.get)
        if value is None:
            print(f"{args.path}: no value {args.get!r}", file=sys.stderr)
            return 1
        print(value if isinstance(value, str) else json.dumps(value))
        return 0
    for notebook in settings.notebooks:
        print(
            f"{notebook.name}: "
            + (", ".join(f"{q.id} ({q.points:g})" for q in notebook.questions) or "no autograded questions")
        )
    print(
        f"{len(settings.question_ids)} questions, {settings.total_points:g} points; hidden tests {settings.hidden_visibility}; "
        f"notebooks run as {settings.user or 'the grader'} with {settings.kernel_memory_mb} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
