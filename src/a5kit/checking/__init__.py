"""Grading: the test format every notebook uses.

In a notebook, ``check("q2a")`` runs the public checks of question q2a on the functions the
notebook defines and prints what passed and why not. Grade cells call ``grade("q2a")``, which
also runs hidden tests when the autograder has made them available, and evaluates to the score
(nbgrader's partial credit).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from typing import Any

from a5kit import config
from a5kit.checking import core
from a5kit.checking.core import Case, Failure, Result, case, load_cases, run_cases, use_hidden_tests
from a5kit.checking.submission import LocalSubmission, MissingFunction, StudentError, Submission

__all__ = [
    "Case",
    "Failure",
    "LocalSubmission",
    "MissingFunction",
    "Result",
    "StudentError",
    "Submission",
    "case",
    "check",
    "grade",
    "load_cases",
    "public_results",
    "run_cases",
    "use_hidden_tests",
]


def _notebook_namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            return shell.user_ns
    except ImportError:
        pass
    import __main__

    return vars(__main__)


def _submission(namespace: dict[str, Any] | None) -> LocalSubmission:
    return LocalSubmission(namespace if namespace is not None else _notebook_namespace())


def _under_autograder(what: str) -> bool:
    """In the Gradescope grader the notebook only defines functions; tests run outside the kernel."""
    if config.under_autograder():
        print(f"{what}: skipped here; the autograder runs the tests itself")
        return True
    return False


@contextlib.contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """Silence tqdm progress bars (a training loop's, a download's) while checks run, so the report stays readable."""
    from tqdm import std

    original = std.tqdm.__dict__["__init__"]  # a partialmethod (tqdm's env overrides): keep the descriptor itself

    def silent(self, *args, **kwargs):
        kwargs["disable"] = True
        original.__get__(self, type(self))(*args, **kwargs)

    std.tqdm.__init__ = silent
    try:
        yield
    finally:
        std.tqdm.__init__ = original


def _warn_if_other_version() -> None:
    """Say so when this a5kit is not the release the notebook's setup cell asked for: grades may then differ."""
    from a5kit.colab_setup import version_warning

    message = version_warning()
    if message:
        print(f"WARNING: {message}")


def hidden_points(question: str) -> float | None:
    """How many points the hidden tests of ``question`` add after submission (stored with the public checks)."""
    from a5kit.public_checks import stored

    try:
        return float(stored.value(f"{question}.points.hidden"))
    except (KeyError, OSError):
        return None


def public_results(question: str, namespace: dict[str, Any] | None = None) -> list[Result]:
    """Results of the public checks of ``question`` on the functions of ``namespace`` (default: the notebook)."""
    with quiet_progress_bars():
        return run_cases(load_cases(question), _submission(namespace))


def check(question: str, namespace: dict[str, Any] | None = None) -> None:
    """Run the public checks of ``question`` on this notebook's functions and print the outcome."""
    if _under_autograder(f"check({question!r})"):
        return
    _warn_if_other_version()
    results = public_results(question, namespace)
    print(core.report(results, question, show_hidden=False, hidden_points=hidden_points(question)))
    if any(not r.passed for r in results):
        print("  (hidden tests run after you submit; passing these checks is necessary, not sufficient)")


def grade(question: str, namespace: dict[str, Any] | None = None) -> float:
    """Score of ``question`` from public and (when loaded) hidden tests; prints the outcome.

    Run by a student (no hidden tests loaded) it says what the score is: "public checks 1.5/1.5 —
    2.5 more points come from hidden tests after you submit".

    Anything written to stderr while grading (a warning, a progress bar) is shown on stdout
    instead: nbgrader gives 0 to a grade cell with stderr output, whatever its score.
    """
    if _under_autograder(f"grade({question!r})"):
        return 0.0
    _warn_if_other_version()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), warnings.catch_warnings(record=True) as caught, quiet_progress_bars():
        warnings.simplefilter("default")
        results = run_cases(load_cases(question, core._hidden_dir), _submission(namespace))
    for w in caught:
        stderr.write(f"{w.category.__name__}: {w.message}\n")
    hidden = core._hidden_dir is not None
    print(core.report(results, question, show_hidden=hidden, hidden_points=None if hidden else hidden_points(question)))
    if stderr.getvalue().strip():
        print(f"  (printed to stderr while grading: {stderr.getvalue().strip()[-500:]})")
    return round(sum(r.score for r in results), 6)
