"""Grade a folder of submissions locally with the Gradescope runner: ``make grade SUBMISSIONS=dir``.

    python -m a5kit.grading.batch SUBMISSIONS [--autograder dist/autograder] [--out DIR] [--workers 2]

SUBMISSIONS holds one subfolder per student (a Gradescope export's ``submission_NNN`` folders
work as they are). Each is graded by ``python -m a5kit.grading.runner`` in its own process,
``--workers`` at a time, exactly as ``run_autograder`` would; the output folder gets each
student's ``results/<student>.json`` and ``grades.csv`` with one row per student and one column
per question.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Graded:
    student: str
    results: Path
    seconds: float


def submissions_in(folder: Path, exclude: Path | None = None) -> list[Path]:
    """One folder per student; a folder holding notebooks directly is a single submission."""
    subs = [p for p in sorted(folder.iterdir()) if p.is_dir() and not p.name.startswith(".") and (exclude is None or p.resolve() != exclude.resolve())]
    if not subs and any(folder.glob("*.ipynb")):
        return [folder]
    return subs


def grade_one(submission: Path, autograder: Path, out: Path) -> Graded:
    results = out / "results" / f"{submission.name}.json"
    cmd = [sys.executable, "-m", "a5kit.grading.runner", str(submission), str(results),
           "--tests", str(autograder / "tests"), "--expected", str(autograder / "expected"),
           "--cache", str(autograder / "cache"), "--config", str(autograder / "grader.json")]
    start = time.monotonic()
    subprocess.run(cmd, capture_output=True, text=True)
    return Graded(submission.name, results, time.monotonic() - start)


def question_scores(doc: dict) -> dict[str, tuple[float, float]]:
    """Per question: (score, max) summed over its tests."""
    scores: dict[str, tuple[float, float]] = {}
    for test in doc.get("tests", []):
        if ":" not in test["name"]:
            continue
        question = test["name"].split(":", 1)[0]
        got, most = scores.get(question, (0.0, 0.0))
        scores[question] = (got + float(test.get("score", 0)), most + float(test.get("max_score", 0)))
    return scores


def write_csv(graded: list[Graded], questions: list[str], path: Path) -> list[list[str]]:
    rows = [["student", "total", *questions]]
    maxima: dict[str, float] = {}
    for g in graded:
        try:
            doc = json.loads(g.results.read_text())
        except (OSError, ValueError):
            doc = {"score": 0, "tests": []}
        scores = question_scores(doc)
        for q, (_, most) in scores.items():
            maxima[q] = most
        rows.append([g.student, f"{float(doc.get('score', 0)):g}", *(f"{scores.get(q, (0.0, 0.0))[0]:g}" for q in questions)])
    rows.insert(1, ["(max)", f"{sum(maxima.get(q, 0) for q in questions):g}", *(f"{maxima.get(q, 0):g}" for q in questions)])
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return rows


def grade_folder(folder: Path, autograder: Path, out: Path, workers: int = 2) -> tuple[list[Graded], list[list[str]], float]:
    """Grade every submission in ``folder``; returns what was graded, the CSV rows and the wall time."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)
    subs = submissions_in(folder, exclude=out)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        graded = list(pool.map(lambda s: grade_one(s, autograder, out), subs))
    wall = time.monotonic() - start
    config = json.loads((autograder / "grader.json").read_text())
    questions = [q for qs in config["questions"].values() for q in qs]
    rows = write_csv(graded, questions, out / "grades.csv")
    return graded, rows, wall


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths))) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.grading.batch", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--autograder", type=Path, default=Path("dist/autograder"), help="staged autograder (make autograder)")
    parser.add_argument("--out", type=Path, default=None, help="default: SUBMISSIONS/../grades")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if not (args.autograder / "grader.json").exists():
        print(f"grade: no autograder at {args.autograder}: run `make autograder` first", file=sys.stderr)
        return 1
    if not args.submissions.is_dir():
        print(f"grade: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 1
    out = args.out or args.submissions.resolve().parent / "grades"
    graded, rows, wall = grade_folder(args.submissions, args.autograder, out, args.workers)
    print(format_table(rows))
    print(f"\ngraded {len(graded)} submissions in {wall:.1f} s with {args.workers} worker(s); wrote {out / 'grades.csv'} and {out / 'results'}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
