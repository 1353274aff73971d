"""Test cases, how they are found, run and reported.

A question's tests live in one module: public cases in ``a5kit.public_checks.<question>`` (shipped with
the package, shown to students by ``check()``), hidden cases in ``<hidden dir>/<question>.py``
(only in the autograder). Each case is a function of a :class:`Submission` decorated with
``@case(points=...)``; it raises :class:`Failure` with a message that helps the student.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from a5kit import config
from a5kit.checking.submission import KitError, MissingFunction, StudentError, Submission

CaseFunction = Callable[[Submission], Any]


class Failure(AssertionError):
    """A test found the answer wrong; the message is shown to the student."""


@dataclass(frozen=True)
class Case:
    question: str
    name: str
    points: float
    hidden: bool
    func: CaseFunction


@dataclass(frozen=True)
class CheckError:
    """An exception the check itself raised (not a Failure, not the student's error): for the instructor.

    ``bug`` marks errors no answer can cause (a NameError, an import that fails, ...): a bug in the
    test. Other types (an AttributeError on what the student returned, ...) may be the student's
    wrong type or a check that does not guard against it; both are worth the instructor's look.
    """

    type: str
    message: str
    where: str  # file:line of the innermost frame in the test's own module ("" if none)
    traceback: str  # the full traceback: for the grader's log only, never for the student
    bug: bool

    def line(self) -> str:
        """One line for a log, a CSV note or a report: ``NameError: name 'x' is not defined (q2a.py:31)``."""
        return f"{self.type}: {self.message[:300]}" + (f" ({self.where})" if self.where else "")


TEST_BUGS = (NameError, ImportError, SyntaxError, RecursionError)  # raised by a check, these are its own bug


@dataclass(frozen=True)
class Result:
    question: str
    name: str
    score: float
    max_score: float
    hidden: bool
    output: str
    error: CheckError | None = None  # the check itself raised: shown to the instructor, not the student

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


def case(points: float, name: str | None = None, hidden: bool = False) -> Callable[[CaseFunction], CaseFunction]:
    """Mark a function of a test module as a test case worth ``points``."""

    def mark(func: CaseFunction) -> CaseFunction:
        func._a5kit_case = {"points": float(points), "name": name or func.__name__.replace("_", " "), "hidden": hidden}  # type: ignore[attr-defined]
        return func

    return mark


def cases_of(module: ModuleType, question: str, hidden: bool) -> list[Case]:
    """The cases a test module defines, in source order."""
    found = []
    for func in vars(module).values():
        meta = getattr(func, "_a5kit_case", None)
        if meta is not None and getattr(func, "__module__", None) == module.__name__:
            found.append(
                (
                    func.__code__.co_firstlineno,
                    Case(question, meta["name"], meta["points"], hidden or meta["hidden"], func),
                )
            )
    return [c for _, c in sorted(found, key=lambda t: t[0])]


def public_module(question: str) -> ModuleType:
    try:
        return importlib.import_module(f"a5kit.public_checks.{question}")
    except ModuleNotFoundError:
        raise KeyError(f"no checks for question {question!r}") from None


_hidden_dir: Path | None = None


def use_hidden_tests(path: str | os.PathLike[str] | None = None) -> Path:
    """Load hidden tests from ``path`` (default: A5KIT_HIDDEN_TESTS, else ``autograder/tests`` above the cwd)."""
    global _hidden_dir
    if config.under_autograder():  # the Gradescope kernel: hidden tests stay outside it
        return Path(os.devnull)
    candidates = [Path(path)] if path else []
    configured = config.hidden_tests_dir()
    if configured is not None:
        candidates.append(configured)
    here = Path.cwd().resolve()
    candidates += [p / "autograder" / "tests" for p in (here, *here.parents)]
    for candidate in candidates:
        if candidate.is_dir():
            _hidden_dir = candidate
            return candidate
    raise FileNotFoundError("hidden tests not found: set A5KIT_HIDDEN_TESTS to the autograder/tests folder")


REFERENCE_MODULE = "a5kit_reference"  # the import name of ``<hidden dir>/reference.py``


def reference_module(directory: Path) -> ModuleType | None:
    """The instructor's reference implementations next to the hidden tests, imported as ``a5kit_reference``.

    Hidden modules import their reference functions from it; the file never ships to students.
    """
    path = (Path(directory) / "reference.py").resolve()
    loaded = sys.modules.get(REFERENCE_MODULE)
    if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path:
        return loaded
    if not path.exists():
        return None
    return _load_file(REFERENCE_MODULE, path)


def _load_file(name: str, path: Path) -> ModuleType:
    """Import the Python file ``path`` as module ``name`` (registered in sys.modules first, as an import does)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def hidden_module(question: str, directory: Path) -> ModuleType | None:
    """The hidden test module of ``question`` in ``directory`` (None if it has none), its reference loaded first."""
    path = directory / f"{question}.py"
    if not path.exists():
        return None
    reference_module(directory)
    return _load_file(f"a5kit_hidden_{question}", path)


def load_cases(question: str, hidden_dir: Path | None = None) -> list[Case]:
    """Public cases of a question, plus its hidden ones when a hidden directory is given."""
    cases = cases_of(public_module(question), question, hidden=False)
    if hidden_dir is not None:
        module = hidden_module(question, hidden_dir)
        if module is not None:
            cases += cases_of(module, question, hidden=True)
    return cases


def check_error(err: BaseException, case_: Case) -> CheckError:
    """What the instructor needs to know of ``err``, raised by ``case_``'s own code."""
    module_file = getattr(getattr(case_.func, "__code__", None), "co_filename", "")
    where = ""
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == module_file:
            where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return CheckError(type(err).__name__, str(err), where, text, isinstance(err, TEST_BUGS))


def run_case(case_: Case, submission: Submission) -> Result:
    """Run one case; any failure costs this case only and says why.

    An exception of the check's own (not a :class:`Failure`, not the student's error) still costs
    the case, and the result carries it as :class:`CheckError` for the instructor: the grader logs
    its traceback and lists it apart, so a bug in a hidden test is seen, not taken for a lost point.
    """
    try:
        fraction = case_.func(submission)
    except Failure as fail:
        return Result(case_.question, case_.name, 0.0, case_.points, case_.hidden, str(fail))
    except (MissingFunction, StudentError) as err:
        return Result(case_.question, case_.name, 0.0, case_.points, case_.hidden, str(err))
    except KitError as err:  # what the student built does not fit a kit probe
        return Result(case_.question, case_.name, 0.0, case_.points, case_.hidden, f"could not check the answer: {err}")
    except Exception as err:  # a wrong type returned by the student usually lands here; a bug in the check too
        error = check_error(err, case_)
        if error.bug:
            output = (
                f"the check itself failed ({error.type}): this is an error in the test, not in your answer; "
                "the instructor can see it"
            )
        else:
            output = f"could not check the answer: {type(err).__name__}: {err}"
        return Result(case_.question, case_.name, 0.0, case_.points, case_.hidden, output, error)
    fraction = 1.0 if fraction is None else min(max(float(fraction), 0.0), 1.0)
    score = round(case_.points * fraction, 6)
    return Result(
        case_.question, case_.name, score, case_.points, case_.hidden, "passed" if fraction == 1.0 else "partly right"
    )


def run_cases(cases: Iterable[Case], submission: Submission) -> list[Result]:
    return [run_case(c, submission) for c in cases]


def report(results: list[Result], question: str, show_hidden: bool, hidden_points: float | None = None) -> str:
    """The outcome of a question's cases, one line per case under a head line that says what was run.

    Without hidden cases the head says so and, when ``hidden_points`` is known, how many points the
    hidden tests add after submission ("q2a: public checks 1.5/1.5 — 2.5 more points come from ...").
    """
    lines = []
    for r in results:
        if r.hidden and not show_hidden:
            continue
        mark = "ok " if r.passed else "FAIL"
        tag = " (hidden)" if r.hidden else ""
        detail = "" if r.passed else f": {r.output}"
        lines.append(f"  [{mark}] {r.name}{tag} ({r.score:g}/{r.max_score:g}){detail}")
    total = sum(r.score for r in results if show_hidden or not r.hidden)
    possible = sum(r.max_score for r in results if show_hidden or not r.hidden)
    if show_hidden and any(r.hidden for r in results):
        head = f"{question}: {total:g}/{possible:g} points from public and hidden checks"
    else:
        head = f"{question}: public checks {total:g}/{possible:g}"
        if hidden_points:
            head += f" — {hidden_points:g} more points come from hidden tests after you submit"
    return "\n".join([head, *lines])
