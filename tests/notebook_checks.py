"""Shared by the tests of each notebook's checks: the reference solution taken from a source
notebook, and its cases run in-process on a namespace (the student's functions)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import nbformat
from conftest import ROOT

from a5kit import config, nbmeta
from a5kit.checking import LocalSubmission, load_cases, run_cases

HIDDEN = ROOT / "autograder" / "tests"


def reference_namespace(notebook: nbformat.NotebookNode, name: str) -> dict:
    """The namespace of the notebook's setup cell and solution cells: the reference solution."""
    ns: dict = {"__name__": "reference_solution"}
    for cell in notebook.cells:
        meta = nbmeta.meta(cell)
        if cell.cell_type == "code" and (meta.grade_id == "setup" or meta.solution):
            exec(compile(cell.source, f"{name}:{cell.id}", "exec"), ns)
    return ns


REPLAY_CACHE: list[Callable[[], Path]] = []  # set by the `public_cases_replay_alike` fixture of conftest.py


def grade(namespace: dict, question: str, hidden: Path = HIDDEN) -> dict:
    """Results of a question's public and hidden cases, by case function name; closes the figures drawn.

    Outside replay mode, with a replay cache set, the public cases are also run as the autograder runs them
    (replaying the recorded cache) and must give the same points: what a student's grade cell shows
    is what the archive gives, for the solution and for every mistaken copy a test grades.
    """
    cases = load_cases(question, hidden)
    with _counting_mode_reads() as reads:
        results = run_cases(cases, LocalSubmission(namespace))
    _close_figures()
    if REPLAY_CACHE and config.mode() != "replay" and reads:  # nothing read the mode: replay cannot differ
        _check_replay_agrees([(c, r) for c, r in zip(cases, results) if not c.hidden], namespace, REPLAY_CACHE[0]())
    return {c.func.__name__: r for c, r in zip(cases, results)}


@contextlib.contextmanager
def _counting_mode_reads() -> Iterator[list[int]]:
    """Counts the reads of A5KIT_MODE (all go through a5kit.config.mode) while the block runs."""
    reads: list[int] = []
    original = config.mode

    def counted():
        reads.append(1)
        return original()

    config.mode = counted
    try:
        yield reads
    finally:
        config.mode = original


def _close_figures() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _check_replay_agrees(public: list, namespace: dict, cache: Path) -> None:
    with mock.patch.dict(os.environ, A5KIT_MODE="replay", A5KIT_CACHE=str(cache)):
        replayed = run_cases([c for c, _ in public], LocalSubmission(namespace))
    _close_figures()
    differ = [
        f"{case.func.__name__}: {live.score:g} in the notebook ({live.output[:200]!r}), {again.score:g} in replay ({again.output[:200]!r})"
        for (case, live), again in zip(public, replayed)
        if live.score != again.score
    ]
    assert not differ, "a public case scores differently in the notebook and in the autograder's replay:\n" + "\n".join(
        differ
    )


def failed(results: dict) -> set[str]:
    return {name for name, r in results.items() if not r.passed}


def with_(reference: dict, **functions) -> dict:
    """The reference namespace with some functions replaced (None: removed)."""
    ns = dict(reference)
    for name, func in functions.items():
        if func is None:
            ns.pop(name)
        else:
            ns[name] = func
    return ns
