"""Grade one submission the Gradescope way: each notebook in its own kernel, tests in this process.

    python -m a5kit.grader.runner SUBMISSION_DIR RESULTS_JSON --tests DIR [--expected DIR] [--cache DIR] [--user NAME]

The trusted side (this process) finds the notebooks, starts a kernel per notebook as the student's
user in replay mode, runs the notebook's code cells one at a time with a deadline, then runs each
question's public and hidden cases here; a case reaches the student's functions only through
:class:`~a5kit.grader.remote.KernelSubmission` (plain data over :mod:`a5kit.protocol`). Time is limited per cell,
per question, per notebook (an equal share of what is left, restarts and re-runs included) and in
total; a dead kernel is restarted and the notebook's cells re-run, so a crash costs only what it
touches, and anything unexpected while grading a notebook costs that notebook only. Between
notebooks every process of the student's user is killed, then its kernel's folders, SysV IPC
objects and temporary files are removed, on that notebook's time first (:meth:`~a5kit.grader.budget.Clock.cleanup_deadline`). A
results.json is written whatever happens: at ``Limits.deadline`` (540 s, inside Gradescope's
600) a timer thread writes what has been graded and ends the process.

Errors for the instructor go to the ``a5kit`` logger: tracebacks of grader errors and of checks
that raised (a bug in a hidden test) to a log file beside results.json (``--log``, default
``<results>.log``), and warnings and errors also to stderr, which Gradescope shows to instructors
only (students see results.json). results.json itself carries the checks' errors without their
tracebacks in ``extra_data.check_errors``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import pwd
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a5kit import config, nbmeta
from a5kit.checking.core import Case, Result, load_cases, run_case
from a5kit.grader import settings as grader_settings
from a5kit.grader.budget import Clock
from a5kit.grader.intake import check_notebook, collect
from a5kit.grader.kernel_client import KernelDied, KernelSettings, StudentKernel
from a5kit.grader.memory import SHARED_ACCOUNTS, adopt_orphans, claim_user
from a5kit.grader.notebook_run import NotebookRun, code_cells
from a5kit.grader.remote import KernelSubmission
from a5kit.grader.results import VISIBILITY_NOTES, clean_text, results_json, write_results
from a5kit.grader.settings import Limits, Settings

log = logging.getLogger("a5kit.grader")


@dataclass
class GraderSetup:
    """Where the grader finds what it needs; run_autograder fills it from grader.json (:func:`setup_from_settings`)."""

    hidden_tests: Path
    questions: dict[str, list[str]]  # notebook stem -> autograded questions, in order
    cache: Path | None = None
    expected: Path | None = None
    limits: Limits = field(default_factory=Limits)
    hidden_visibility: str = grader_settings.HIDDEN_VISIBILITY
    notebooks: tuple[str, ...] = ()  # every notebook a submission is searched for (default: those of ``questions``)
    # The student's kernels: their user, memory and disk limits (grader.json's kernel_memory_mb is memory_mb
    # here); each notebook's kernel gets these with its own environment added.
    kernel: KernelSettings = field(default_factory=KernelSettings)

    @property
    def user(self) -> str:
        return self.kernel.user

    def with_kernel(self, **changes: Any) -> GraderSetup:
        """This set-up with some of the kernel settings changed (e.g. ``user="nobody"``)."""
        return dataclasses.replace(self, kernel=dataclasses.replace(self.kernel, **changes))


def questions_in(notebook: Path) -> list[str]:
    """The autograded questions of a source or release notebook: its nbgrader grade cells with tests."""
    return nbmeta.autograded_questions(notebook)


def log_check_error(result: Result) -> None:
    """Log a check that raised: an error with its traceback when it is a bug in the test, else a warning."""
    error = result.error
    assert error is not None
    kind = "hidden test" if result.hidden else "public check"
    if error.bug:
        log.error(
            "%s error in %s (%s): %s\n%s", kind, result.question, result.name, error.line(), error.traceback.rstrip()
        )
    else:
        log.warning(
            "%s in %s (%s) raised %s (the student's wrong type, or a check that does not guard against it)\n%s",
            kind,
            result.question,
            result.name,
            error.line(),
            error.traceback.rstrip(),
        )


def check_errors(results: list[Result]) -> list[dict[str, Any]]:
    """The checks that raised, for results.json's extra_data: no traceback (hidden tests' code stays out)."""
    return [
        {
            "question": r.question,
            "test": r.name,
            "hidden": r.hidden,
            "bug": r.error.bug,
            "error": clean_text(r.error.line(), 600),
        }
        for r in results
        if r.error is not None
    ]


def _zero(cases: list[Case], reason: str) -> list[Result]:
    return [Result(c.question, c.name, 0.0, c.points, c.hidden, reason) for c in cases]


def grade_notebook(
    path: Path,
    cases: dict[str, list[Case]],
    setup: GraderSetup,
    clock: Clock,
    notes: list[str],
    stats: dict[str, Any],
    progress: Progress | None = None,
) -> list[Result]:
    """Grade one notebook in its own kernel (``cases``: its questions' cases); whatever goes wrong costs its questions only."""
    questions = list(cases)
    stem = path.stem
    started, cpu0 = time.monotonic(), _children_cpu()
    env = {"A5KIT_MODE": "replay"}
    if setup.cache is not None:
        env["A5KIT_CACHE"] = str(setup.cache)
    results: list[Result] = []
    kernel: StudentKernel | None = None
    try:
        kernel = StudentKernel(dataclasses.replace(setup.kernel, env={**setup.kernel.env, **env}))
        kernel.deadline = clock.notebook_deadline
        if progress is not None:
            progress.kernel = kernel
        try:
            kernel.start()
        except KernelDied as err:
            notes.append(f"{stem}: {err}")
            return [r for q in questions for r in _zero(cases[q], str(err))]
        run = NotebookRun(kernel, code_cells(path), clock)
        run.run_all()
        problems = run.problems()
        for question in questions:
            clock.begin_question()
            sub = KernelSubmission(run, question)
            for case_ in cases[question]:
                if kernel.broken is not None:
                    results.append(_zero([case_], kernel.broken)[0])
                elif clock.notebook_remaining() <= 0:
                    results.append(
                        _zero(
                            [case_],
                            f"not graded: this notebook's share of the grading time ({clock.share_seconds():.0f} s) ran out",
                        )[0]
                    )
                else:
                    results.append(run_case(case_, sub))
                    if results[-1].error is not None:
                        log_check_error(results[-1])
                if progress is not None:
                    progress.add(results[-1])
            if sub.timed_out:
                notes.append(f"{question} timed out after {setup.limits.question:.0f} s")
        if problems:
            notes.append(
                f"{stem}: " + "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            )
        if kernel.broken is not None and not any(kernel.broken in p for p in problems):
            notes.append(f"{stem}: {kernel.broken}")
        if kernel.restarts:
            notes.append(f"{stem}: the kernel was restarted {kernel.restarts} time(s) to grade the rest")
    except Exception as err:  # a grader bug or a hostile input we did not foresee: this notebook only
        log.exception("grader error while grading %s.ipynb", stem)
        reason = f"the grader could not grade {stem}.ipynb ({type(err).__name__}); please tell your instructor"
        notes.append(reason)
        done = {(r.question, r.name) for r in results}
        results += [
            r for q in questions for r in _zero([c for c in cases[q] if (c.question, c.name) not in done], reason)
        ]
    finally:
        if kernel is not None:
            cleanup_start = time.monotonic()
            kernel.shutdown(cleanup_deadline=clock.cleanup_deadline())
            stats[stem] = {
                "seconds": round(time.monotonic() - started, 2),
                "kernel_cpu_seconds": round(_children_cpu() - cpu0, 2),
                "cleanup_seconds": round(time.monotonic() - cleanup_start, 2),
                "kernel_peak_mb": round(kernel.peak_mb, 1),
                "restarts": kernel.restarts,
                **({"warnings": kernel.warnings} if kernel.warnings else {}),
            }
        if progress is not None:
            progress.kernel = None
    return results


class Progress:
    """What has been graded so far, so the hard deadline can still write it. State: results and the live kernel."""

    def __init__(self) -> None:
        self.results: list[Result] = []
        self.planned: list[Case] = []
        self.notes: list[str] = []
        self.kernel: StudentKernel | None = None
        self.lock = threading.Lock()

    def add(self, result: Result) -> None:
        with self.lock:
            self.results.append(result)

    def document(self, reason: str, elapsed: float, hidden_visibility: str) -> dict[str, Any]:
        """results.json for what is graded so far; every other planned case gets 0 with ``reason``."""
        with self.lock:
            done = {(r.question, r.name) for r in self.results}
            results = [*self.results, *_zero([c for c in self.planned if (c.question, c.name) not in done], reason)]
            summary = "; ".join([reason, *self.notes])
        return results_json(results, summary, elapsed, hidden_visibility)


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _others_can_read(folder: Path) -> bool:
    """Whether a user with no special rights can list ``folder`` (every parent must be searchable)."""
    import stat

    path = folder.resolve()
    if not path.is_dir() or not path.stat().st_mode & stat.S_IROTH:
        return False
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _cache_label(cache: Path | None) -> str | None:
    try:
        manifest = json.loads(((cache or Path()) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return (
        "model outputs come from a DEMO cache made by tiny random models, not the pretrained ones"
        if manifest.get("tiny")
        else None
    )


@contextlib.contextmanager
def _trusted_env(setup: GraderSetup) -> Iterator[None]:
    """This process serves model outputs from the cache and expected values from the build, like the kernel.

    Through :func:`a5kit.config.overriding`, not os.environ: the hidden tests read them with config's
    functions, and nothing this process starts inherits them.
    """
    wanted = {"A5KIT_MODE": "replay", "A5KIT_CACHE": setup.cache, "A5KIT_EXPECTED": setup.expected}
    with config.overriding(**{k: v for k, v in wanted.items() if v is not None}):
        yield


def grade_submission(submission: Path, setup: GraderSetup, progress: Progress | None = None) -> dict[str, Any]:
    """The results.json document for one submission folder. Never raises for anything the student did."""
    # absolute paths: the kernel runs in its own folder, where a relative cache path means nothing
    setup = dataclasses.replace(
        setup,
        hidden_tests=setup.hidden_tests.resolve(),
        cache=setup.cache.resolve() if setup.cache else None,
        expected=setup.expected.resolve() if setup.expected else None,
    )
    adopted = adopt_orphans(True)  # a daemonised student process stays our descendant, so it can be found and killed
    try:
        with _trusted_env(setup):
            return _grade_submission(submission, setup, progress or Progress())
    finally:
        if adopted:
            adopt_orphans(False)


def _grade_submission(submission: Path, setup: GraderSetup, progress: Progress) -> dict[str, Any]:
    """Check the set-up, hold the machine's lock on the student account, and grade the notebooks."""
    clock = Clock(setup.limits)
    notes: list[str] = []
    if setup.user and os.geteuid() == 0 and not _user_exists(setup.user):
        notes.append(
            f"the student user {setup.user!r} does not exist (setup.sh creates it): the notebooks ran as 'nobody'"
        )
        setup = setup.with_kernel(user="nobody")
    if setup.user and os.geteuid() == 0 and setup.cache is not None and not _others_can_read(setup.cache):
        notes.append(
            f"the cache {setup.cache} is not readable by {setup.user!r}: model outputs will be missing in the notebooks"
        )
    if setup.user and os.geteuid() != 0:
        notes.append(
            f"not running as root: the notebooks ran as this user, not as {setup.user!r}; hidden tests were not protected"
        )
    elif not setup.user:
        notes.append("no student user configured: the notebooks ran as the grader's user")
    lock = None
    if setup.user and os.geteuid() == 0 and setup.user not in SHARED_ACCOUNTS:
        lock = claim_user(pwd.getpwnam(setup.user).pw_uid)
        if lock is None:
            notes.append(
                f"another grader is running as {setup.user!r} on this machine: only this grader's own processes were stopped"
            )
            setup = setup.with_kernel(exclusive_user=False)
    try:
        return _grade_notebooks(submission, setup, progress, clock, notes)
    finally:
        if lock is not None:
            os.close(lock)


def _grade_notebooks(
    submission: Path, setup: GraderSetup, progress: Progress, clock: Clock, notes: list[str]
) -> dict[str, Any]:
    """Each expected notebook in turn, each with its share of the time; the results.json document."""
    stats: dict[str, Any] = {}
    results: list[Result] = []
    graded: list[str] = []
    progress.notes = notes
    with tempfile.TemporaryDirectory(prefix="a5kit-intake-") as work:
        expected = setup.notebooks or tuple(setup.questions)
        intake = collect(submission, Path(work), expected)
        todo = [(stem, setup.questions[stem]) for stem in expected if setup.questions.get(stem)]
        cases = {
            q: load_cases(q, setup.hidden_tests) for _, questions in todo for q in questions
        }  # once per submission
        progress.planned += [c for _, questions in todo for q in questions for c in cases[q]]
        to_run = [stem for stem, _ in todo if intake.notebooks.get(stem) is not None]
        for stem, questions in todo:
            path = intake.notebooks.get(stem)
            problem = "not submitted" if path is None else check_notebook(path)
            if problem is not None:
                reason = f"{stem}.ipynb {problem}" if path is None else f"{stem}.ipynb: {problem}"
                lost = [r for q in questions for r in _zero(cases[q], reason)]
                results += lost
                for result in lost:
                    progress.add(result)
                if path is not None:
                    notes.append(reason)
                if stem in to_run:
                    to_run.remove(stem)
                continue
            if clock.remaining() <= 0:
                lost = [r for q in questions for r in _zero(cases[q], "not graded: the grading time budget ran out")]
                results += lost
                continue
            assert path is not None  # a missing notebook has its problem ("not submitted") above
            clock.begin_notebook(notebooks_left=len(to_run))
            to_run.remove(stem)
            results += grade_notebook(path, {q: cases[q] for q in questions}, setup, clock, notes, stats, progress)
            graded.append(stem)
        notes = intake.notes + notes
    label = _cache_label(setup.cache)
    head = f"graded {len(graded)} notebook{'s' if len(graded) != 1 else ''}" + (
        f" ({', '.join(graded)})" if graded else ""
    )
    hidden_note = VISIBILITY_NOTES[setup.hidden_visibility]
    summary = "; ".join([head, *notes, hidden_note]) + (f"\n{label}" if label else "")
    doc = results_json(results, summary, round(time.monotonic() - clock.start, 2), setup.hidden_visibility)
    doc["extra_data"] = {"notebooks": stats}
    errors = check_errors(results)
    if errors:
        doc["extra_data"]["check_errors"] = errors
    return doc


def crash_results(error: BaseException, elapsed: float) -> dict[str, Any]:
    """What a grader bug still reports: a valid results.json that says so (and 0 points)."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    summary = f"the autograder itself failed ({text}); please tell your instructor. Nothing was graded."
    return results_json([], summary, elapsed)


def setup_from_settings(
    settings: Settings,
    hidden_tests: Path,
    cache: Path | None = None,
    expected: Path | None = None,
    user: str | None = None,
) -> GraderSetup:
    """The grader's set-up from grader.json's settings; ``user`` (else A5KIT_STUDENT_USER) overrides its student user."""
    if user is None:
        user = config.student_user()
    return GraderSetup(
        hidden_tests=hidden_tests,
        questions=settings.questions,
        notebooks=settings.notebook_names,
        cache=cache,
        expected=expected,
        limits=settings.limits,
        hidden_visibility=settings.hidden_visibility,
        kernel=KernelSettings(
            user=settings.user if user is None else user,
            memory_mb=settings.kernel_memory_mb,
            disk_mb=settings.kernel_disk_mb,
        ),
    )


def _setup_from(args: argparse.Namespace) -> GraderSetup:
    if args.config:
        settings = grader_settings.load(args.config)
    else:  # from the source notebooks, points checked against the tests
        folder = args.notebooks or Path("solutions")
        settings = grader_settings.from_sources(sorted(folder.glob("*.ipynb")), args.tests)
    return setup_from_settings(settings, args.tests, args.cache, args.expected, args.user)


class HardDeadline:
    """At ``seconds`` after it starts, write results.json with what is graded, stop the student's processes, exit.

    The trusted process may be blocked anywhere (a kernel that will not die, a file system call);
    this thread does not wait for it: Gradescope must get a results.json before its own limit.
    """

    def __init__(self, seconds: float, results: Path, progress: Progress, hidden_visibility: str) -> None:
        self.seconds, self.results, self.progress, self.visibility = seconds, results, progress, hidden_visibility
        self.start = time.monotonic()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        reason = f"grading was stopped at the autograder's hard time limit ({self.seconds:.0f} s); what was not graded by then scores 0"
        try:
            doc = self.progress.document(reason, time.monotonic() - self.start, self.visibility)
            self.results.parent.mkdir(parents=True, exist_ok=True)
            write_results(doc, self.results)
            print(doc["output"], flush=True)
        except BaseException:
            log.exception("could not write results.json at the hard deadline")
        finally:
            kernel = self.progress.kernel
            if kernel is not None:  # no zmq calls here: the main thread may be inside one
                with contextlib.suppress(BaseException):
                    kernel.abandon()
            os._exit(0)


def start_logging(path: Path | None) -> None:
    """The ``a5kit`` logger: everything to ``path`` (the instructor's log), warnings and errors to stderr."""
    root = logging.getLogger("a5kit")
    root.setLevel(logging.INFO)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
        except OSError as err:
            root.warning("no log file at %s: %s", path, err)
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            root.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.grader.runner", description="grade one submission folder")
    parser.add_argument("submission", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--tests", type=Path, required=True, help="hidden test modules (autograder/tests)")
    parser.add_argument(
        "--config", type=Path, help="grader.json written by `make autograder` (questions, limits, user)"
    )
    parser.add_argument("--notebooks", type=Path, help="without --config: read the questions from these notebooks")
    parser.add_argument("--expected", type=Path, help="precomputed expected values (A5KIT_EXPECTED)")
    parser.add_argument("--cache", type=Path, help="model-output cache for replay (A5KIT_CACHE)")
    parser.add_argument("--user", default=None, help="run notebooks as this user (when root)")
    parser.add_argument(
        "--log", type=Path, default=None, help="the instructor's log (default: RESULTS with the suffix .log)"
    )
    args = parser.parse_args(argv)
    start_logging(args.log or args.results.with_suffix(".log"))
    start = time.monotonic()
    deadline: HardDeadline | None = None
    try:
        setup = _setup_from(args)
        progress = Progress()
        deadline = HardDeadline(setup.limits.deadline, args.results, progress, setup.hidden_visibility)
        doc = grade_submission(args.submission, setup, progress)
    except Exception as err:  # a bug in the grader: still a results.json
        log.exception("the autograder itself failed")
        doc = crash_results(err, time.monotonic() - start)
    if deadline is not None:
        deadline.cancel()
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_results(doc, args.results)
    print(doc["output"])
    print(f"score {doc['score']:g}; results written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
