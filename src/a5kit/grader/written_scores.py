"""The manual points of the written questions: ``written.csv`` template and its merge into the grades.

    python -m a5kit.grader.batch merge-written [--grades grades] [--written grades/written.csv]

``make grade`` writes ``grades/written.csv``: a ``(max)`` row, then one row per student (or per
pseudonym with ``--blind``) and one empty column per written question; it never replaces a
``written.csv`` that is already there. Graders fill in the points; the merge checks the whole file
first and refuses it, one line per problem, when a score is above the question's points, negative
or not a number, a student or a question is unknown or twice, or the file is not such a table. It
then writes ``grades-with-written.csv`` and ``report-with-written.html`` next to grades.csv (with
``-2``, ``-3``, ... when those exist): earlier results are never overwritten. A cell left empty is
"not graded yet", said in the student's notes.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from a5kit.grader import class_report
from a5kit.grader.written import Question, blind_key, pseudonym

TEMPLATE = "written.csv"
POINTS = "written/questions.json"  # the questions and points the template was made for
KEY = "blind.key"


class MergeError(ValueError):
    """written.csv cannot be merged: one line per problem in ``lines``."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def write_template(out: Path, students: list[str], questions: list[Question], blind: bool = False) -> Path | None:
    """``out/written.csv`` with empty scores (pseudonyms if ``blind``) and ``out/written/questions.json``; None if kept."""
    (out / POINTS).parent.mkdir(parents=True, exist_ok=True)
    (out / POINTS).write_text(json.dumps({q.id: q.points for q in questions}, indent=1) + "\n")
    target = out / TEMPLATE
    if target.exists():
        return None
    labels = sorted(pseudonym(s, blind_key(out / KEY)) for s in students) if blind else sorted(students)
    with target.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *(q.id for q in questions)])
        writer.writerow(["(max)", *(f"{q.points:g}" for q in questions)])
        writer.writerows([label, *([""] * len(questions))] for label in labels)
    return target


@dataclass
class Scores:
    """Checked manual points: per real student name, per question (None = not graded yet)."""

    points: dict[str, float]  # question -> its points
    by_student: dict[str, dict[str, float | None]]


def read_scores(path: Path, students: list[str], points: dict[str, float], key: bytes | None = None) -> Scores:
    """The scores of ``path``, checked against ``students`` and the questions' ``points``; MergeError listing every problem."""
    names = {s: s for s in students} | ({pseudonym(s, key): s for s in students} if key else {})
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise MergeError(
            [f"{path}: cannot be read as CSV ({err}); save it as UTF-8 CSV, as the template was"]
        ) from None
    if not rows or not rows[0] or rows[0][0].strip() != "student":
        raise MergeError(
            [f"{path}: malformed: the first row must be the header 'student,<question>,...' of the template"]
        )
    header = [h.strip() for h in rows[0]]
    problems = [
        f"{path}: unknown question {h!r} in the header (written questions: {', '.join(points)})"
        for h in header[1:]
        if h not in points
    ]
    problems += [
        f"{path}: question {h!r} appears twice in the header"
        for h in sorted({h for h in header[1:] if header[1:].count(h) > 1})
    ]
    by_student: dict[str, dict[str, float | None]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row) or row[0].strip() == "(max)":
            continue
        if len(row) != len(header):
            problems.append(f"{path} line {line}: malformed: {len(row)} cells where the header has {len(header)}")
            continue
        label = row[0].strip()
        student = names.get(label)
        if student is None:
            problems.append(f"{path} line {line}: unknown student {label!r} (not in grades.csv)")
            continue
        if student in by_student:
            problems.append(f"{path} line {line}: student {label!r} appears twice")
            continue
        scores: dict[str, float | None] = {}
        for question, cell in zip(header[1:], row[1:]):
            if question not in points:
                continue
            scores[question] = _score(cell, points[question], f"{path} line {line}: {label} {question}", problems)
        by_student[student] = scores
    if problems:
        raise MergeError(problems)
    return Scores(points, by_student)


def _score(cell: str, most: float, where: str, problems: list[str]) -> float | None:
    """A cell's score (None when empty); a problem line when it is not a number from 0 to ``most``."""
    if not cell.strip():
        return None
    try:
        value = float(cell.strip().replace(",", "."))
    except ValueError:
        problems.append(f"{where} = {cell.strip()!r} is not a number")
        return None
    if not math.isfinite(value) or value < 0:
        problems.append(f"{where} = {cell.strip()} must be from 0 to {most:g}")
    elif value > most + 1e-9:
        problems.append(f"{where} = {value:g} is above the question's {most:g} points")
    return value


def free_names(folder: Path) -> tuple[Path, Path]:
    """The first ``grades-with-written[-N].csv`` and ``report-with-written[-N].html`` that both do not exist."""
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        csv_path, html_path = folder / f"grades-with-written{suffix}.csv", folder / f"report-with-written{suffix}.html"
        if not csv_path.exists() and not html_path.exists():
            return csv_path, html_path
        n += 1


def merge(grades: Path, written: Path) -> tuple[Path, Path, int]:
    """Merge ``written`` into ``grades/grades.csv``; returns the new CSV, the new report and the empty cells."""
    try:
        with (grades / "grades.csv").open(newline="") as fh:
            rows = list(csv.reader(fh))
        points = {str(q): float(p) for q, p in json.loads((grades / POINTS).read_text()).items()}
    except (OSError, ValueError) as err:
        raise MergeError(
            [f"{grades}: no grades.csv or {POINTS} to merge into ({err}); run `make grade SUBMISSIONS=...` first"]
        ) from None
    header, maxima, students = rows[0], rows[1], [r for r in rows[2:] if r]
    if header[-1] != "notes" or maxima[0] != "(max)":
        raise MergeError([f"{grades / 'grades.csv'}: malformed: not the grades.csv `make grade` writes"])
    key_file = grades / KEY
    scores = read_scores(written, [r[0] for r in students], points, blind_key(key_file) if key_file.exists() else None)
    auto = header[2:-1]
    out_rows = [
        ["student", "total", *auto, *points, "notes"],
        [
            "(max)",
            f"{float(maxima[1]) + sum(points.values()):g}",
            *maxima[2:-1],
            *(f"{p:g}" for p in points.values()),
            "",
        ],
    ]
    empty_cells = 0
    results = []
    for row in students:
        mine = scores.by_student.get(row[0], {})
        got = [mine.get(q) for q in points]
        missing = [q for q, v in zip(points, got) if v is None]
        empty_cells += len(missing)
        notes = [n for n in (row[-1], f"written not graded yet: {', '.join(missing)}" if missing else "") if n]
        out_rows.append(
            [
                row[0],
                f"{float(row[1]) + sum(v or 0.0 for v in got):g}",
                *row[2:-1],
                *("" if v is None else f"{v:g}" for v in got),
                "; ".join(notes),
            ]
        )
        doc = _results(grades / "results" / f"{row[0]}.json")
        result = class_report.from_results(row[0], doc)
        result.scores.update({q: v or 0.0 for q, v in zip(points, got)})
        results.append(result)
    csv_path, html_path = free_names(grades)
    with csv_path.open("x", newline="") as fh:
        csv.writer(fh).writerows(out_rows)
    notebooks = sorted({n for r in results for n in r.graded_notebooks})
    all_maxima = {q: float(v) for q, v in zip(out_rows[0][2:-1], out_rows[1][2:-1])}
    html_path.write_text(
        class_report.render(results, [*auto, *points], all_maxima, notebooks, "Class report with written questions"),
        encoding="utf-8",
    )
    return csv_path, html_path, empty_cells


def _results(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m a5kit.grader.batch merge-written", description="merge written.csv into grades.csv"
    )
    parser.add_argument(
        "--grades", type=Path, default=Path("grades"), help="the folder make grade wrote (default: grades)"
    )
    parser.add_argument(
        "--written", type=Path, default=None, help="the filled-in template (default: GRADES/written.csv)"
    )
    args = parser.parse_args(argv)
    try:
        csv_path, html_path, empty = merge(args.grades, args.written or args.grades / TEMPLATE)
    except MergeError as err:
        for line in err.lines:
            print(f"merge-written: {line}", file=sys.stderr)
        print("merge-written: nothing written; correct written.csv and run it again", file=sys.stderr)
        return 2
    print(
        f"wrote {csv_path} and {html_path}" + (f"; {empty} written score(s) still empty (see notes)" if empty else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
