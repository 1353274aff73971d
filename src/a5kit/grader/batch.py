"""Grade a folder of submissions locally with the Gradescope runner: ``make grade SUBMISSIONS=dir``.

    python -m a5kit.grader.batch SUBMISSIONS [--autograder dist/autograder] [--out DIR] [--workers 2] [--unsafe-as-me]

SUBMISSIONS holds one subfolder per student (a Gradescope export's ``submission_NNN`` folders
work as they are). Each is graded by ``python -m a5kit.grader.runner`` in its own process,
``--workers`` at a time, exactly as ``run_autograder`` would; the output folder gets each
student's ``results/<student>.json`` and the runner's log ``logs/<student>.log`` (tracebacks),
``grades.csv`` with one row per student, one column per question and a ``notes`` column (a runner
crash, with its exit code and last stderr lines; a hidden test that raised), and ``report.html``
(how the class did per question). With the instructor's ``solutions/`` at hand it also writes one page
per written question, ``written/<question>.html`` and ``written/index.html`` (:mod:`.written_pages`;
``--blind`` shows stable pseudonyms), and the template ``written.csv`` for their points, which
``--written FILE`` or ``python -m a5kit.grader.batch merge-written`` merges (:mod:`.written_scores`).

Students never meet (as root): each worker has its own throw-away user (:mod:`.isolation`), each
submission is copied into a folder only root can open, the runner's temporary files live in a
folder only root and that worker's user can enter, the hidden tests and expected values are made
root-only, each runner and its kernels get their own network namespace (a kernel's ZMQ ports,
whose IOPUB anyone on the machine could otherwise subscribe to, are out of the others' reach), and
between two students every process of the worker's user is killed by uid and its files removed.
Without root the notebooks would run with your rights (they could read the hidden tests and
rewrite grades): the command refuses unless given ``--unsafe-as-me``, and then the
console table and ``grades.csv`` say so.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import pwd
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from a5kit.grader import class_report, isolation, written, written_pages, written_scores
from a5kit.grader import settings as grader_settings
from a5kit.grader.memory import remove_tree

CRASH_MARK = "the autograder itself failed"  # how runner.crash_results starts its summary
STDERR_LINES = 3  # last lines of a crashed runner's stderr kept in the notes
HARD_MARGIN = 300.0  # seconds a runner may take beyond the grading budget (kernel starts, cleanup) before it is stopped


@dataclass(frozen=True)
class Graded:
    """One student's grading: where the results are, how long it took and what went wrong outside the notebooks."""

    student: str
    results: Path
    seconds: float
    problem: str = ""  # the runner crashed, hung or wrote no results: exit code and last stderr lines
    ran_as: str = ""  # the user the notebooks ran as ("" = the runner's choice)
    leftovers: int = 0  # processes of the student's user still alive after its runner ended (all killed)


@dataclass
class Slot:
    """A worker: its student user (None without root) and the temporary folder its runner uses."""

    index: int
    tmp: Path
    user: pwd.struct_passwd | None = None


@dataclass
class BatchRun:
    """What a batch produced: graded students, the table's rows, the wall time and warnings for the console."""

    graded: list[Graded]
    rows: list[list[str]]
    wall: float
    warnings: list[str] = field(default_factory=list)
    unsafe_as: str = ""  # the user the notebooks ran as without isolation ("" = isolated)
    notes: list[str] = field(default_factory=list)  # what else was written (the written questions' pages)


def submissions_in(folder: Path, exclude: Path | None = None) -> list[Path]:
    """One folder per student; a folder holding notebooks directly is a single submission."""
    subs = [
        p
        for p in sorted(folder.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (exclude is None or p.resolve() != exclude.resolve())
    ]
    if not subs and any(folder.glob("*.ipynb")):
        return [folder]
    return subs


def _special(folder: str, names: list[str]) -> list[str]:
    """Names in ``folder`` that are neither regular files, folders nor links (FIFOs, sockets, devices): not copied."""
    skip = []
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            skip.append(name)
    return skip


def stage_submission(submission: Path, staged: Path) -> Path:
    """A private copy of ``submission`` under ``staged`` (links kept as links; the runner never follows them out)."""
    target = staged / submission.name
    shutil.copytree(submission, target, symlinks=True, ignore=_special)
    target.chmod(0o700)
    return target


def _tail(text: str, lines: int = STDERR_LINES) -> str:
    """The last non-empty ``lines`` of ``text`` on one line, at most 600 characters."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-600:]


def runner_problem(code: int | None, stderr: str, results: Path) -> str:
    """What went wrong with the runner itself, in words for the instructor ("" when it graded normally)."""
    if code is None:
        return f"runner did not finish and was stopped; last stderr: {_tail(stderr) or '(none)'}"
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        return f"runner crashed (exit {code}) and wrote no results.json: {_tail(stderr) or '(no stderr)'}"
    if code != 0:
        return f"runner crashed (exit {code}): {_tail(stderr) or '(no stderr)'}"
    if str(doc.get("output", "")).startswith(CRASH_MARK):
        return f"grader error (exit 0, score 0): {_tail(stderr) or str(doc['output'])[:300]}"
    return ""


def runner_command(submission: Path, autograder: Path, results: Path, user: str = "") -> list[str]:
    """The runner's command line, as run_autograder calls it (plus ``--user`` for a worker's own user)."""
    cmd = [
        sys.executable,
        "-m",
        "a5kit.grader.runner",
        str(submission),
        str(results),
        "--tests",
        str(autograder / "tests"),
        "--expected",
        str(autograder / "expected"),
        "--cache",
        str(autograder / "cache"),
        "--config",
        str(autograder / "grader.json"),
    ]
    return cmd + (["--user", user] if user else [])


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int | None, str]:
    """Run the runner in its own session; stop the whole session after ``timeout``. Returns (exit code or None, stderr)."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(timeout=timeout)
        return proc.returncode, err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        return None, err


def empty(folder: Path) -> None:
    """Remove everything inside ``folder`` (what a crashed runner or a student left), keeping the folder."""
    for child in list(folder.iterdir()):
        remove_tree(child)


def grade_one(
    submission: Path,
    autograder: Path,
    results_dir: Path,
    slot: Slot,
    staged: Path,
    timeout: float,
    own_network: bool = False,
) -> Graded:
    """Grade one submission on ``slot``, then leave nothing of it behind: no process, no file."""
    results = results_dir / f"{submission.name}.json"
    user = slot.user.pw_name if slot.user else ""
    start = time.monotonic()
    try:
        copy = stage_submission(submission, staged)
    except OSError as err:
        return Graded(submission.name, results, 0.0, f"could not copy the submission to grade it: {err}"[:600], user)
    env = {**os.environ, "TMPDIR": str(slot.tmp)}
    try:
        command = runner_command(copy, autograder, results, user)
        code, stderr = _run(isolation.with_own_network(command) if own_network else command, env, timeout)
    finally:
        leftovers = isolation.kill_all(slot.user) if slot.user else 0
        if slot.user:
            isolation.remove_files(slot.user.pw_uid)
        empty(slot.tmp)
        remove_tree(copy)
    return Graded(
        submission.name, results, time.monotonic() - start, runner_problem(code, stderr, results), user, leftovers
    )


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


def read_results(path: Path) -> dict:
    """A student's results.json, or an empty 0-point one when it is missing or unreadable."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"score": 0, "tests": []}
    return doc if isinstance(doc, dict) else {"score": 0, "tests": []}


def check_error_notes(doc: dict) -> list[str]:
    """The checks that raised while grading (runner's ``extra_data.check_errors``), in words for the instructor."""
    errors = doc.get("extra_data", {}).get("check_errors", []) if isinstance(doc.get("extra_data"), dict) else []
    errors = [e for e in errors if isinstance(e, dict)]
    notes = [
        f"{'hidden test' if e.get('hidden') else 'public check'} error in {e.get('question')} ({e.get('test')}): {e.get('error')}"
        for e in errors
        if e.get("bug")
    ]
    others = sum(1 for e in errors if not e.get("bug"))
    if others:
        notes.append(f"{others} check(s) raised on this answer (a wrong type, or a check to harden): see the log")
    return notes


def row_notes(g: Graded, unsafe_as: str, doc: dict | None = None) -> str:
    """The notes cell of a student's row: runner trouble, checks that raised, and an unisolated run."""
    notes = [g.problem] if g.problem else []
    notes += check_error_notes(doc or {})
    if unsafe_as:
        notes.append(f"UNSAFE: ran as {unsafe_as}, not isolated")
    return "; ".join(notes)


def write_csv(graded: list[Graded], questions: list[str], path: Path, unsafe_as: str = "") -> list[list[str]]:
    """grades.csv: a (max) row, then one row per student with total, per-question scores and notes."""
    rows = [["student", "total", *questions, "notes"]]
    maxima: dict[str, float] = {}
    for g in graded:
        doc = read_results(g.results)
        scores = question_scores(doc)
        for q, (_, most) in scores.items():
            maxima[q] = most
        rows.append(
            [
                g.student,
                f"{float(doc.get('score', 0)):g}",
                *(f"{scores.get(q, (0.0, 0.0))[0]:g}" for q in questions),
                row_notes(g, unsafe_as, doc),
            ]
        )
    rows.insert(
        1, ["(max)", f"{sum(maxima.get(q, 0) for q in questions):g}", *(f"{maxima.get(q, 0):g}" for q in questions), ""]
    )
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return rows


def write_report(
    graded: list[Graded], questions: list[str], rows: list[list[str]], notebooks: list[str], path: Path
) -> Path:
    """report.html: score distributions, commonest check messages per question, notebooks that did not run."""
    maxima = {q: float(v) for q, v in zip(rows[0][2:-1], rows[1][2:-1])}
    students = [class_report.from_results(g.student, read_results(g.results), g.problem) for g in graded]
    return class_report.write(path, students, questions, maxima, notebooks)


def _grading_budget(autograder: Path) -> float:
    """The runner's total time budget in seconds, from grader.json."""
    return float(grader_settings.load(autograder / "grader.json").limits.total)


def _hidden_files(autograder: Path) -> list[Path]:
    """Instructor files a student must not read: hidden tests, expected values, the archive, and the repository's."""
    here = Path.cwd()
    return [
        autograder / "tests",
        autograder / "expected",
        autograder.parent / f"{autograder.name}.zip",
        here / "solutions",
        here / "autograder" / "tests",
    ]


@contextmanager
def workers_for(count: int, isolate: bool, root: Path) -> Iterator[list[Slot]]:
    """``count`` slots; as root each with its own new user and a temporary folder only root and that user can enter."""
    slots: list[Slot] = []
    try:
        if isolate:
            for name in isolation.stale_users():
                isolation.remove_user(name)
        for index in range(1, count + 1):
            tmp = root / f"worker-{index}"
            tmp.mkdir(mode=0o711)  # unisolated (all as one user): nothing to hide from each other
            slot = Slot(index, tmp)
            slots.append(slot)
            if isolate:
                slot.user = isolation.create_user(isolation.user_name(index))
                os.chown(tmp, 0, slot.user.pw_gid)
                tmp.chmod(0o710)
        yield slots
    finally:
        for slot in slots:
            if slot.user is not None:
                isolation.remove_user(slot.user.pw_name)


def write_written(subs: list[Path], solutions: Path, out: Path, blind: bool = False) -> list[str]:
    """The written questions' pages and the written.csv template; returns lines for the console."""
    questions = written.questions(solutions)
    key = written.blind_key(out / written_scores.KEY) if blind else None
    index = written_pages.write_pages(subs, questions, out / "written", key)
    template = written_scores.write_template(out, [s.name for s in subs], questions, blind)
    kept = "" if template else f"; kept the existing {out / written_scores.TEMPLATE} (delete it for a fresh template)"
    return [f"written answers: {index} ({len(questions)} questions){kept}"]


EARLIER = ("grades.csv", "report.html", "results", "logs")  # what a new run writes afresh; the TAs' written.csv stays


def keep_earlier(out: Path) -> str | None:
    """Move a previous run's grades, report, results and logs into ``out/earlier/<time>/`` so a new run overwrites nothing;
    returns a line saying where they went (None when there was no previous run)."""
    found = [out / name for name in EARLIER if (out / name).exists()]
    if not found:
        return None
    stamp = time.strftime(
        "%Y%m%d-%H%M%S",
        time.localtime((out / "grades.csv").stat().st_mtime if (out / "grades.csv").exists() else time.time()),
    )
    target = out / "earlier" / stamp
    n = 1
    while target.exists():
        n += 1
        target = out / "earlier" / f"{stamp}-{n}"
    target.mkdir(parents=True)
    for path in found:
        path.rename(target / path.name)
    return f"the previous run's {', '.join(p.name for p in found)} are kept in {target}"


def run_batch(
    folder: Path,
    autograder: Path,
    out: Path,
    workers: int = 2,
    unsafe_as_me: bool = False,
    solutions: Path | None = None,
    blind: bool = False,
) -> BatchRun:
    """Grade every submission in ``folder`` into ``out``; isolated as root, else as this user (marked when ``unsafe_as_me``)."""
    isolate = isolation.is_root()
    subs = submissions_in(folder, exclude=out)
    warnings: list[str] = []
    kept = keep_earlier(out)
    if kept:
        warnings.append(kept)
    work = Path(tempfile.mkdtemp(prefix="a5kit-batch-"))
    work.chmod(0o711)  # worker folders inside are entered by their own user only
    staged, results_dir = work / "staged", work / "results"
    staged.mkdir(mode=0o700)
    results_dir.mkdir(mode=0o700)
    timeout = _grading_budget(autograder) + HARD_MARGIN
    no_network = "not root"
    try:
        with ExitStack() as stack:
            if isolate:
                for path in _hidden_files(autograder)[:3]:
                    if path.exists():
                        isolation.lock(path)
                if stack.enter_context(isolation.hidden(folder)):
                    warnings.append(
                        f"{folder} was readable by other users: closed to them while grading, then restored"
                    )
                warnings += [
                    f"student code can read {p}: run `chmod -R go-rwx {p}`"
                    for p in isolation.exposed(_hidden_files(autograder))
                ]
                no_network = isolation.own_network_works()
                if no_network:
                    warnings.append(
                        f"students could not get their own network namespace ({no_network}): a student's code can "
                        "watch the messages (code and output) of another's kernel; grade with WORKERS=1 to avoid it"
                    )
            slots = stack.enter_context(workers_for(max(1, min(workers, len(subs))), isolate, work))
            free: queue.Queue[Slot] = queue.Queue()
            for slot in slots:
                free.put(slot)

            def grade(sub: Path) -> Graded:
                slot = free.get()
                try:
                    return grade_one(
                        sub, autograder, results_dir, slot, staged, timeout, own_network=isolate and not no_network
                    )
                finally:
                    free.put(slot)

            start = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(slots)) as pool:
                graded = list(pool.map(grade, subs))
            wall = time.monotonic() - start
        (out / "results").mkdir(parents=True, exist_ok=True)
        final = []
        for g in graded:
            target = out / "results" / g.results.name
            if g.results.exists():
                shutil.copyfile(g.results, target)
            else:  # never a previous run's file
                target.unlink(missing_ok=True)
            log_file = g.results.with_suffix(".log")
            if log_file.exists():
                (out / "logs").mkdir(exist_ok=True)
                shutil.copyfile(log_file, out / "logs" / log_file.name)
            final.append(Graded(g.student, target, g.seconds, g.problem, g.ran_as, g.leftovers))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    graded_settings = grader_settings.load(autograder / "grader.json")
    questions = graded_settings.question_ids
    unsafe_as = pwd.getpwuid(os.geteuid()).pw_name if (unsafe_as_me and not isolate) else ""
    rows = write_csv(final, questions, out / "grades.csv", unsafe_as)
    try:
        write_report(
            final, questions, rows, [n.name for n in graded_settings.notebooks if n.questions], out / "report.html"
        )
    except Exception as err:  # the grades matter more than the report
        logging.getLogger("a5kit.grader").exception("the class report could not be written")
        warnings.append(f"the class report could not be written: {type(err).__name__}: {err}")
    run_notes: list[str] = []
    solutions = solutions if solutions is not None else Path("solutions")
    if solutions.is_dir():
        try:
            run_notes = write_written(subs, solutions, out, blind)
        except Exception as err:  # the grades matter more than the pages
            logging.getLogger("a5kit.grader").exception("the written questions' pages could not be written")
            warnings.append(f"the written questions' pages could not be written: {type(err).__name__}: {err}")
    else:
        warnings.append(f"no written pages or written.csv: no solutions folder at {solutions} (give --solutions)")
    warnings += [
        f"{g.student}: {g.leftovers} process(es) of its student user outlived the runner and were killed"
        for g in final
        if g.leftovers
    ]
    return BatchRun(final, rows, wall, warnings, unsafe_as, run_notes)


def grade_folder(
    folder: Path, autograder: Path, out: Path, workers: int = 2, solutions: Path | None = None, blind: bool = False
) -> tuple[list[Graded], list[list[str]], float]:
    """Grade every submission in ``folder``; returns what was graded, the CSV rows and the wall time."""
    run = run_batch(folder, autograder, out, workers, solutions=solutions, blind=blind)
    return run.graded, run.rows, run.wall


def format_table(rows: list[list[str]]) -> str:
    """The rows as aligned text columns (names left, numbers right, notes left and last)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    last = len(rows[0]) - 1 if rows[0][-1] == "notes" else -1
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i in (0, last) else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    )


def unsafe_banner(user: str) -> str:
    """The line above the table when students ran with the instructor's rights."""
    return (
        f"UNSAFE: not root, so every notebook ran as {user} with your rights (--unsafe-as-me): student code could "
        "read the hidden tests and rewrite results; do not trust these scores"
    )


REFUSAL = (
    "grade: not root, so student notebooks would run as you, with your rights: they could read the hidden "
    "tests and rewrite their grades. Run it as root (`sudo make grade SUBMISSIONS=...`), where each student "
    "gets its own throw-away user, or accept the risk explicitly with `make grade UNSAFE=1` (--unsafe-as-me)."
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge-written"]:
        return written_scores.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m a5kit.grader.batch", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument(
        "--autograder", type=Path, default=Path("dist/autograder"), help="staged autograder (make autograder)"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: SUBMISSIONS/../grades")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--unsafe-as-me", action="store_true", help="without root: run student code as yourself, unisolated"
    )
    parser.add_argument(
        "--solutions",
        type=Path,
        default=Path("solutions"),
        help="instructor notebooks: written questions, keys, rubrics",
    )
    parser.add_argument(
        "--blind", action="store_true", help="written pages and written.csv show stable pseudonyms, not names"
    )
    parser.add_argument("--written", type=Path, default=None, help="a filled-in written.csv to merge after grading")
    args = parser.parse_args(argv)
    if not (args.autograder / "grader.json").exists():
        print(f"grade: no autograder at {args.autograder}: run `make autograder` first", file=sys.stderr)
        return 1
    try:
        grader_settings.load(args.autograder / "grader.json")
    except grader_settings.SettingsError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 1
    if not args.submissions.is_dir():
        print(f"grade: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 1
    if not isolation.is_root() and not args.unsafe_as_me:
        print(REFUSAL, file=sys.stderr)
        return 2
    out = args.out or args.submissions.resolve().parent / "grades"
    try:
        run = run_batch(
            args.submissions,
            args.autograder,
            out,
            args.workers,
            unsafe_as_me=args.unsafe_as_me,
            solutions=args.solutions,
            blind=args.blind,
        )
    except isolation.IsolationError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 1
    if run.unsafe_as:
        print(unsafe_banner(run.unsafe_as))
    print(format_table(run.rows))
    crashed = [g for g in run.graded if g.problem]
    for line in run.warnings:
        print(f"warning: {line}")
    print(
        f"\ngraded {len(run.graded)} submissions in {run.wall:.1f} s with {args.workers} worker(s)"
        + (f", {len(crashed)} with a runner problem (see notes)" if crashed else "")
        + f"; wrote {out / 'grades.csv'}, {out / 'report.html'} and {out / 'results'}/"
    )
    for line in run.notes:
        print(line)
    if args.written is not None:
        merged = written_scores.main(["--grades", str(out), "--written", str(args.written)])
        if merged:
            return merged
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
