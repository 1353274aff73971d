"""The instructor half of ``make demo``: release, autograder and a graded table, offline.

From a repository checkout and a (tiny) cache it builds the student release and the autograder,
makes three example submissions -- the full solution, the untouched student release and a partly
wrong one -- and grades them with the Gradescope runner. The partly wrong one is the solution with
the edits in :data:`PARTLY_WRONG`, so it follows the source notebooks instead of being a copy.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat

from . import autograder, release
from .grader import batch

# (notebook, exact text in the source, replacement, the question it breaks): typical mistakes
PARTLY_WRONG: tuple[tuple[str, str, str, str], ...] = (
    ("01_self_attention.ipynb", "/ np.sqrt(q.shape[-1])", "", "q1a"),  # forgot the 1/sqrt(d_k) scaling
    (
        "02_dna_cnn.ipynb",
        '{"A": 0, "C": 1, "G": 2, "T": 3}',
        '{"A": 0, "G": 1, "C": 2, "T": 3}',
        "q2a",
    ),  # columns A, G, C, T
)


class DemoError(RuntimeError):
    """An example submission cannot be made from the current sources."""


def partly_wrong(solutions: Path, out: Path) -> list[str]:
    """Copy the solutions into ``out`` with the :data:`PARTLY_WRONG` edits; returns the questions broken."""
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(solutions.glob("*.ipynb")):
        shutil.copyfile(path, out / path.name)
    broken = []
    for notebook, old, new, question in PARTLY_WRONG:
        nb = nbformat.read(out / notebook, as_version=4)
        holding = [cell for cell in nb.cells if old in cell.source]
        if len(holding) != 1 or holding[0].source.count(old) != 1:
            raise DemoError(
                f"{notebook}: the text {old!r} no longer appears exactly once; update a5kit.demo.PARTLY_WRONG"
            )
        holding[0].source = holding[0].source.replace(old, new)
        nbformat.write(nb, out / notebook)
        broken.append(question)
    return broken


def example_submissions(root: Path, release_dir: Path, out: Path) -> dict[str, Path]:
    """solution/, release/ and partly_wrong/ under ``out``, one folder per example student."""
    if out.exists():
        shutil.rmtree(out)
    folders = {name: out / name for name in ("solution", "release", "partly_wrong")}
    shutil.copytree(root / "solutions", folders["solution"])
    shutil.copytree(release_dir, folders["release"])
    partly_wrong(root / "solutions", folders["partly_wrong"])
    return folders


def run(root: Path, cache: Path, workdir: Path, workers: int = 2) -> list[list[str]]:
    """Build everything under ``workdir``, grade the examples, print and return the score table."""
    t0 = time.perf_counter()
    release_dir = workdir / "release"
    release.build(root, release_dir)
    archive = autograder.build(root, cache, workdir / "dist")
    print(
        f"built the student release and {archive} ({archive.stat().st_size / 2**20:.1f} MB) in {time.perf_counter() - t0:.1f} s"
    )
    folders = example_submissions(root, release_dir, workdir / "submissions")
    graded, rows, wall = batch.grade_folder(
        workdir / "submissions",
        workdir / "dist" / "autograder",
        workdir / "grades",
        workers,
        solutions=root / "solutions",
    )
    print(
        f"graded {len(graded)} example submissions ({', '.join(folders)}) with the Gradescope runner in {wall:.1f} s:\n"
    )
    print(batch.format_table(rows))
    print("\nscores come from a TINY DEMO CACHE (small random models): they test the plumbing, not biology")
    print(f"results.json per submission: {workdir / 'grades' / 'results'}/")
    report = workdir / "grades" / "report.html"
    if report.exists():
        print(f"class report (score plots, commonest check messages, notebooks that did not run): {report}")
    pages = workdir / "grades" / "written" / "index.html"
    if pages.exists():
        print(f"written answers, one page per question with its key and rubric: {pages}")
        print(
            f"  scores for them go into {workdir / 'grades' / 'written.csv'}; merge with "
            f"`python -m a5kit.grader.batch merge-written --grades {workdir / 'grades'}`"
        )
    return rows
