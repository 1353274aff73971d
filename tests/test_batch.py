"""`make grade` (a5kit.grading.batch): students graded side by side never reach each other, the
hidden tests stay root-only, a crashed runner is reported per student, and without root it refuses
to run student code as the instructor unless told to (and then says so in the table).

The autograder here grades q1a only (in 01_self_attention) with generous limits; the attack
submissions are real notebooks: a setsid daemon that injects code into every kernel whose
connection file it can read, a copycat that runs whatever notebooks of others it can find, a snoop
that passes only if it can read the hidden tests.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sys
from pathlib import Path

import pytest

from a5kit.grading import batch, isolation
from conftest import ROOT
from test_runner import ATTENTION, notebook

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="isolating students needs root (user switch)")
pytestmark = pytest.mark.slow
Q1A_POINTS = 4.0

STUB = "import numpy as np\ndef scaled_dot_product_attention(q, k, v, causal=True):\n    raise NotImplementedError()\n"

# runs detached (setsid) for up to 240 s: every kernel whose connection file it can read gets a broken q1a
DAEMON = r'''
import os, time
from jupyter_client import BlockingKernelClient
done, end = set(), time.time() + 240
while time.time() < end:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")
        except OSError:
            continue
        if "ipykernel_launcher" not in " ".join(argv) or "-f" not in argv or pid in done:
            continue
        try:
            kc = BlockingKernelClient(connection_file=argv[argv.index("-f") + 1])
            kc.load_connection_file()
            kc.start_channels()
            kc.execute("def scaled_dot_product_attention(*a, **k):\n    raise RuntimeError('sabotaged by another submission')")
            done.add(pid)
        except Exception:
            pass
    time.sleep(0.3)
'''

SABOTEUR = [
    STUB,
    f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {DAEMON!r}], start_new_session=True,\n"
    "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
    "import time\ntime.sleep(25)  # keep this kernel (and the daemon) alive while the others are graded",
]


def copycat(originals: Path) -> list[str]:
    """Runs every other notebook it can find: the submissions folder, and the runners' staged copies (from /proc)."""
    return [STUB, f'''
import glob, json, os
places = [{str(originals)!r}]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open(f"/proc/{{pid}}/cmdline", "rb").read().decode().split("\\0")
    except OSError:
        continue
    if "a5kit.grading.runner" in argv:
        places.append(argv[argv.index("a5kit.grading.runner") + 1])
for place in places:
    for path in glob.glob(os.path.join(place, "**", "*.ipynb"), recursive=True):
        try:
            cells = json.load(open(path))["cells"]
        except (OSError, ValueError):
            continue
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "def scaled_dot_product_attention" in source and "NotImplementedError" not in source:
                exec(source)
''']


def snoop(hidden: Path) -> list[str]:
    """Defines the solution only when the hidden tests (or expected values) can be read."""
    return [ATTENTION.replace("def scaled_dot_product_attention", "def _solution"), f'''
import os
def scaled_dot_product_attention(q, k, v, causal=True):
    open(os.path.join({str(hidden)!r}, "tests", "q1a.py")).read()
    os.listdir(os.path.join({str(hidden)!r}, "expected"))
    return _solution(q, k, v, causal)
''']


@pytest.fixture(scope="module")
def autograder_dir(shared_tmp, tiny_cache) -> Path:
    """An autograder folder as `make autograder` stages it (world-readable), grading q1a only."""
    folder = shared_tmp / "batch-autograder"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(mode=0o755)
    shutil.copytree(ROOT / "autograder" / "tests", folder / "tests")
    (folder / "expected").mkdir(mode=0o755)
    (folder / "expected" / "q1a.json").write_text("{}")
    (folder / "cache").symlink_to(tiny_cache)
    config = {"questions": {"01_self_attention": ["q1a"]}, "limits": {"cell": 60.0, "question": 120.0, "total": 300.0},
              "hidden_visibility": "after_published", "user": "a5student", "kernel_memory_mb": 1500}
    (folder / "grader.json").write_text(json.dumps(config))
    for path in (folder, folder / "tests", folder / "expected"):
        path.chmod(0o755)
    return folder


def submissions(root: Path, students: dict[str, list[str] | None]) -> Path:
    """A folder every user could read (as an instructor's often is), one subfolder per student."""
    folder = root / "submissions"
    folder.mkdir(mode=0o755)
    for student, cells in students.items():
        (folder / student).mkdir(mode=0o755)
        if cells is not None:
            (folder / student / "01_self_attention.ipynb").write_text(notebook(*cells))
    return folder


def table_rows(out: str) -> dict[str, list[str]]:
    """The console table's rows by student: [total, q1a, notes...]."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("student "))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def our_users() -> list[str]:
    return [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(f"{isolation.PREFIX}-{os.getpid()}-")]


@pytest.fixture(scope="module")
def attacked(autograder_dir, shared_tmp) -> dict:
    """One isolated batch of four: saboteur, solution, copycat, snoop (2 workers); its console, CSV and users after."""
    if not AS_ROOT:
        pytest.skip("isolating students needs root")
    root = shared_tmp / "batch-attack"
    root.mkdir(mode=0o755)
    folder = submissions(root, {"a_saboteur": SABOTEUR, "b_solution": [ATTENTION], "c_copycat": copycat(root / "submissions"),
                                "d_snoop": snoop(autograder_dir)})
    out = root / "grades"
    import contextlib
    import io

    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = batch.main([str(folder), "--autograder", str(autograder_dir), "--out", str(out), "--workers", "2"])
    return {"code": code, "console": console.getvalue(), "out": out, "users_after": our_users(), "folder": folder}


# -- students never reach each other ---------------------------------------------------------------


@needs_root
def test_a_setsid_daemon_of_one_student_cannot_sabotage_another_students_kernel(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["b_solution"][1]) == Q1A_POINTS, attacked["console"]


@needs_root
def test_a_student_cannot_read_the_other_submissions(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["c_copycat"][1]) == 0, attacked["console"]


@needs_root
def test_a_student_cannot_read_the_hidden_tests_or_expected_values(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["d_snoop"][1]) == 0, attacked["console"]


@needs_root
def test_a_process_that_outlives_its_student_is_killed_and_named_in_the_console(attacked):
    assert any(line.startswith("warning: a_saboteur:") and "were killed" in line for line in attacked["console"].splitlines()), attacked["console"]


@needs_root
def test_the_batch_removes_its_student_users_and_their_processes(attacked):
    assert attacked["users_after"] == []


@needs_root
def test_the_submissions_folder_is_readable_again_after_grading(attacked):
    assert isolation.reachable_by_others(attacked["folder"])


@needs_root
def test_hidden_tests_and_expected_values_are_left_root_only(attacked, autograder_dir):
    for name in ("tests", "expected"):
        assert (autograder_dir / name).stat().st_mode & 0o077 == 0


@needs_root
def test_every_student_has_a_results_file_and_a_csv_row(attacked):
    out = attacked["out"]
    students = {"a_saboteur", "b_solution", "c_copycat", "d_snoop"}
    assert {p.stem for p in (out / "results").glob("*.json")} == students
    assert {line.split(",")[0] for line in (out / "grades.csv").read_text().splitlines()[2:]} == students


# -- the pieces the isolation rests on ------------------------------------------------------------


@needs_root
def test_kill_all_reaches_a_process_that_left_its_session_and_group(tmp_path):
    record = isolation.create_user(isolation.user_name(99))
    try:
        import subprocess

        subprocess.run(["/bin/sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &"],
                       user=record.pw_uid, group=record.pw_gid, extra_groups=[], cwd="/", timeout=60)
        assert isolation.processes_of(record.pw_uid)
        assert isolation.kill_all(record) >= 1
        assert isolation.processes_of(record.pw_uid) == []
    finally:
        isolation.remove_user(record.pw_name)


@needs_root
def test_remove_files_clears_what_a_student_user_left_in_shared_temporary_folders(tmp_path):
    record = isolation.create_user(isolation.user_name(98))
    try:
        tmp_path.chmod(0o777)
        deep = tmp_path / "left"
        path = deep
        for _ in range(50):
            path = path / "d"
        path.mkdir(parents=True)
        for p in [deep, *deep.rglob("*")]:
            os.chown(p, record.pw_uid, record.pw_gid)
        assert isolation.remove_files(record.pw_uid, roots=(tmp_path,)) == 1
        assert not deep.exists()
    finally:
        isolation.remove_user(record.pw_name)


@needs_root
def test_kill_all_refuses_users_that_are_not_batch_students():
    with pytest.raises(isolation.IsolationError, match="not a batch student user"):
        isolation.kill_all(pwd.getpwnam("nobody"))


@needs_root
def test_users_left_by_a_killed_batch_are_stale_and_removed_by_the_next():
    dead = 2**22 + 17  # above pid_max's default: no such process
    name = isolation.user_name(1, run=dead)
    isolation.create_user(name)
    try:
        assert name in isolation.stale_users()
    finally:
        isolation.remove_user(name)
    assert name not in [u.pw_name for u in pwd.getpwall()]


# -- runner crashes reach the instructor -------------------------------------------------------------


def _fake_runner(monkeypatch, code: str) -> None:
    """The runner replaced by a script (it ignores the submission)."""
    monkeypatch.setattr(batch, "runner_command", lambda *args, **kwargs: [sys.executable, "-c", code])


def test_a_crashed_runner_is_reported_with_its_exit_code_and_last_stderr_line_in_the_console(tmp_path, autograder_dir, monkeypatch, capsys):
    _fake_runner(monkeypatch, "import sys; print('Traceback ...', file=sys.stderr); print('MemoryError: boom', file=sys.stderr); sys.exit(3)")
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    code = batch.main([str(folder), "--autograder", str(autograder_dir), "--out", str(tmp_path / "grades"), "--unsafe-as-me"])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("ann "))
    assert "runner crashed (exit 3)" in row and "MemoryError: boom" in row
    assert code == 1


def test_a_crashed_runner_is_reported_in_grades_csv(tmp_path, autograder_dir, monkeypatch):
    _fake_runner(monkeypatch, "import sys; print('KeyError: questions', file=sys.stderr); sys.exit(1)")
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    batch.run_batch(folder, autograder_dir, tmp_path / "grades", unsafe_as_me=True)
    import csv

    rows = list(csv.DictReader((tmp_path / "grades" / "grades.csv").open()))
    ann = next(r for r in rows if r["student"] == "ann")
    assert ann["total"] == "0" and "exit 1" in ann["notes"] and "KeyError: questions" in ann["notes"]


def test_a_grader_error_inside_the_runner_is_not_a_silent_zero(tmp_path):
    doc = {"score": 0, "output": "the autograder itself failed (TypeError: x); please tell your instructor.", "tests": []}
    problem = batch.runner_problem(0, "Traceback (most recent call last):\nTypeError: x\n", _write(tmp_path / "r.json", doc))
    assert problem.startswith("grader error") and "TypeError: x" in problem


def _write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_a_runner_that_graded_normally_has_no_notes(tmp_path):
    doc = {"score": 4, "output": "graded 1 notebook", "tests": []}
    assert batch.runner_problem(0, "", _write(tmp_path / "r.json", doc)) == ""


def test_a_runner_that_hung_is_reported_as_stopped(tmp_path):
    assert batch.runner_problem(None, "", tmp_path / "missing.json").startswith("runner did not finish")


# -- without root --------------------------------------------------------------------------------


def test_without_root_it_refuses_to_run_student_code_as_the_instructor(tmp_path, autograder_dir, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    code = batch.main([str(folder), "--autograder", str(autograder_dir), "--out", str(tmp_path / "grades")])
    err = capsys.readouterr().err
    assert code == 2 and "UNSAFE=1" in err and "sudo make grade" in err
    assert not (tmp_path / "grades").exists()


def test_unsafe_as_me_says_so_above_the_table_and_in_every_row(tmp_path, autograder_dir, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": None, "bob": None})  # nothing handed in: graded without a kernel
    batch.main([str(folder), "--autograder", str(autograder_dir), "--out", str(tmp_path / "grades"), "--unsafe-as-me"])
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("student "))
    assert lines[header - 1].startswith("UNSAFE: not root")
    assert all("UNSAFE: ran as" in line for line in lines[header + 2:header + 4])
