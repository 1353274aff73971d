"""Shared by the tests of each notebook's checks: the reference solution taken from a source
notebook, and its cases run in-process on a namespace (the student's functions)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from a5kit import nbmeta
from a5kit.checking import LocalSubmission, load_cases, run_cases
from conftest import ROOT

HIDDEN = ROOT / "autograder" / "tests"


def reference_namespace(notebook: nbformat.NotebookNode, name: str) -> dict:
    """The namespace of the notebook's setup cell and solution cells: the reference solution."""
    ns: dict = {"__name__": "reference_solution"}
    for cell in notebook.cells:
        meta = nbmeta.meta(cell)
        if cell.cell_type == "code" and (meta.grade_id == "setup" or meta.solution):
            exec(compile(cell.source, f"{name}:{cell.id}", "exec"), ns)
    return ns


def grade(namespace: dict, question: str, hidden: Path = HIDDEN) -> dict:
    """Results of a question's public and hidden cases, by case function name; closes the figures drawn."""
    cases = load_cases(question, hidden)
    results = run_cases(cases, LocalSubmission(namespace))
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return {c.func.__name__: r for c, r in zip(cases, results)}


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
