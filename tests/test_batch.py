"""`make grade` (a5kit.grader.batch): students graded side by side never reach each other, the
hidden tests stay root-only, a crashed runner is reported per student, and without root it refuses
to run student code as the instructor unless told to (and then says so in the table).

The autograder here grades q1a only (in 01_self_attention) with generous limits; the attack
submissions are real notebooks: a setsid daemon that injects code into every kernel whose
connection file it can read, a copycat that runs whatever notebooks of others it can find, a snoop
that passes only if it can read the hidden tests.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT
from test_runner import ATTENTION, notebook

from a5kit import nbmeta
from a5kit.grader import batch, isolation
from a5kit.grader.settings import STUDENT_USER, Limits, Notebook, Question, Settings

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="isolating students needs root (user switch)")
pytestmark = pytest.mark.slow
Q1A_POINTS = nbmeta.graded_points(ROOT / "solutions" / "01_self_attention.ipynb")["q1a"]  # its grade cell's points

STUB = "import numpy as np\ndef scaled_dot_product_attention(q, k, v, causal=True):\n    raise NotImplementedError()\n"

# runs detached (setsid) for up to 240 s: over and over, every kernel whose connection file it can
# read gets a broken q1a (the attack of issue 11 that cost a solution all its points)
DAEMON = r"""
import os, time
from jupyter_client import BlockingKernelClient
clients, end = {}, time.time() + 240
while time.time() < end:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")
            if "ipykernel_launcher" in " ".join(argv) and "-f" in argv and pid not in clients:
                kc = BlockingKernelClient(connection_file=argv[argv.index("-f") + 1])
                kc.load_connection_file()
                kc.start_channels()
                clients[pid] = kc
        except Exception:
            pass
    for kc in clients.values():
        kc.execute("def scaled_dot_product_attention(*a, **k):\n    raise RuntimeError('sabotaged by another submission')")
    time.sleep(0.2)
"""

SABOTEUR = [
    STUB,
    f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {DAEMON!r}], start_new_session=True,\n"
    "                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
    "import time\ntime.sleep(25)  # keep this kernel (and the daemon) alive while the others are graded",
]


# listens to every IOPUB socket of a batch student's kernel (a PUB socket asks no key) and runs the
# classmate's code it sees broadcast; only batch users' ports, so other graders on the machine do not count
SNIFFER = [
    STUB,
    r"""
import json, os, pwd, time, zmq
ours = {u.pw_uid for u in pwd.getpwall() if u.pw_name.startswith("a5student-")} - {os.getuid()}
ctx, seen, socks, got = zmq.Context(), set(), [], None
def ports():
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(name).read().splitlines()[1:]:
            p = line.split()
            if p[3] == "0A" and int(p[7]) in ours:
                yield int(p[1].rsplit(":", 1)[1], 16)
end = time.time() + 90
while time.time() < end and got is None:
    for port in set(ports()) - seen:
        seen.add(port)
        s = ctx.socket(zmq.SUB); s.setsockopt(zmq.SUBSCRIBE, b""); s.connect(f"tcp://127.0.0.1:{port}"); socks.append(s)
    for s in socks:
        try:
            frames = s.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            continue
        for f in frames:
            if b"def scaled_dot_product_attention" in f and b"NotImplementedError" not in f:
                got = json.loads(f)["code"]
    time.sleep(0.02)
exec(got or "")
""",
]
SLOW_SOLUTION = ["import time\ntime.sleep(10)  # a slow first cell (imports)", ATTENTION]

# four busy loops in detached children, for the 20 s its kernel stays busy (the kernel has no CPU limit)
SPINNER = [
    STUB,
    "import subprocess, sys\nfor _ in range(4):\n    subprocess.Popen([sys.executable, '-c', 'while True: pass'], "
    "start_new_session=True,\n                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
    "import time\ntime.sleep(20)",
]


def copycat(originals: Path, victim: str) -> list[str]:
    """Runs the ``victim``'s notebook if it can find it: in the submissions folder, or where a runner (seen in /proc) reads it."""
    return [
        STUB,
        f"""
import glob, json, os
places = [{str(originals)!r}]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open(f"/proc/{{pid}}/cmdline", "rb").read().decode().split("\\0")
    except OSError:
        continue
    if "a5kit.grader.runner" in argv:
        places.append(argv[argv.index("a5kit.grader.runner") + 1])
for place in places:
    for path in glob.glob(os.path.join(place, "**", "*.ipynb"), recursive=True):
        if {victim!r} not in path:  # other graders on this machine are not part of the test
            continue
        try:
            cells = json.load(open(path))["cells"]
        except (OSError, ValueError):
            continue
        for cell in cells:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "def scaled_dot_product_attention" in source and "NotImplementedError" not in source:
                exec(source)
""",
    ]


def snoop(hidden: Path) -> list[str]:
    """Defines the solution only when the hidden tests (or expected values) can be read."""
    return [
        ATTENTION.replace("def scaled_dot_product_attention", "def _solution"),
        f"""
import os
def scaled_dot_product_attention(q, k, v, causal=True):
    open(os.path.join({str(hidden)!r}, "tests", "q1a.py")).read()
    os.listdir(os.path.join({str(hidden)!r}, "expected"))
    return _solution(q, k, v, causal)
""",
    ]


def make_autograder(folder: Path, cache: Path) -> Path:
    """An autograder folder as `make autograder` stages it (world-readable), grading q1a only."""
    folder.mkdir(mode=0o755)
    shutil.copytree(ROOT / "autograder" / "tests", folder / "tests")
    (folder / "expected").mkdir(mode=0o755)
    (folder / "expected" / "q1a.json").write_text("{}")
    (folder / "cache").symlink_to(cache)
    Settings(
        notebooks=(Notebook("01_self_attention", (Question("q1a", Q1A_POINTS),)),),
        limits=Limits(cell=60.0, question=120.0, total=300.0),
        user=STUDENT_USER,
    ).write(folder / "grader.json")
    for path in (folder, folder / "tests", folder / "expected"):
        path.chmod(0o755)
    return folder


@pytest.fixture
def bare_autograder(tmp_path) -> Path:
    """The same without a model cache: enough for runs that start no kernel."""
    return make_autograder(tmp_path / "autograder", tmp_path / "no-cache")


@pytest.fixture(scope="module")
def autograder_dir(shared_tmp, tiny_cache) -> Path:
    return make_autograder(open_tmp(shared_tmp) / "autograder", tiny_cache)


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
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells[1:]
    return rows


def open_tmp(parent: Path) -> Path:
    """A new folder every user can enter (mkdtemp makes it private)."""
    folder = Path(tempfile.mkdtemp(dir=parent))
    folder.chmod(0o755)
    return folder


def our_users() -> list[str]:
    return [u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(f"{isolation.PREFIX}-{os.getpid()}-")]


def attack(
    root: Path, autograder: Path, students: dict[str, list[str] | None], workers: int, unsafe_as_me: bool = False
) -> dict:
    """Grade ``students`` with `make grade`'s command; the console, the output folder and our users after."""
    folder = submissions(root, students)
    out = root / "grades"
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        code = batch.main(
            [str(folder), "--autograder", str(autograder), "--out", str(out), "--workers", str(workers)]
            + (["--unsafe-as-me"] if unsafe_as_me else [])
        )
    return {"code": code, "console": console.getvalue(), "out": out, "users_after": our_users(), "folder": folder}


@pytest.fixture(scope="module")
def attacked(autograder_dir, shared_tmp) -> dict:
    """An isolated batch, two at a time: saboteur and solution side by side, then copycat and snoop on their workers."""
    if not AS_ROOT:
        pytest.skip("isolating students needs root")
    root = open_tmp(shared_tmp)
    return attack(
        root,
        autograder_dir,
        {
            "a_saboteur": SABOTEUR,
            "b_solution": [ATTENTION],
            "c_copycat": copycat(root / "submissions", "b_solution"),
            "d_snoop": snoop(autograder_dir),
        },
        workers=2,
    )


@pytest.fixture(scope="module")
def shared_user(shared_tmp, tiny_cache) -> dict:
    """The control: the same attacks, one at a time, every student as one user and nothing locked (`make grade` before)."""
    if not AS_ROOT:
        pytest.skip("needs root to run the notebooks as another user")
    root = open_tmp(shared_tmp)
    autograder = make_autograder(root / "autograder", tiny_cache)
    record = isolation.create_user(isolation.user_name(77))
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(isolation, "is_root", lambda: False)
            patch.setenv("A5KIT_STUDENT_USER", record.pw_name)
            students = {
                "1_copycat": copycat(root / "submissions", "4_solution"),
                "2_snoop": snoop(autograder),
                "3_saboteur": SABOTEUR,
                "4_solution": [ATTENTION],
            }
            return attack(root, autograder, students, workers=1, unsafe_as_me=True)
    finally:
        isolation.remove_user(record.pw_name)  # and the daemon


@pytest.fixture(scope="module")
def sniffed(autograder_dir, shared_tmp) -> dict:
    """An isolated batch of two side by side: the IOPUB sniffer and a solution with a slow first cell."""
    if not AS_ROOT:
        pytest.skip("isolating students needs root")
    return attack(open_tmp(shared_tmp), autograder_dir, {"a_sniffer": SNIFFER, "b_solution": SLOW_SOLUTION}, workers=2)


@pytest.fixture(scope="module")
def sniffed_shared_network(autograder_dir, shared_tmp) -> dict:
    """The control: the same two with their own users but one shared network (no namespaces)."""
    if not AS_ROOT:
        pytest.skip("isolating students needs root")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(isolation, "own_network_works", lambda: "disabled by the test")
        return attack(
            open_tmp(shared_tmp), autograder_dir, {"a_sniffer": SNIFFER, "b_solution": SLOW_SOLUTION}, workers=2
        )


@pytest.fixture(scope="module")
def starved(autograder_dir, shared_tmp) -> dict:
    """An isolated batch of two side by side: four busy loops of one student on this 2-core machine, and a solution."""
    if not AS_ROOT:
        pytest.skip("isolating students needs root")
    return attack(open_tmp(shared_tmp), autograder_dir, {"a_spinner": SPINNER, "b_solution": [ATTENTION]}, workers=2)


# -- students never reach each other ---------------------------------------------------------------


@needs_root
def test_busy_loops_of_one_student_cost_another_student_graded_at_the_same_time_nothing(starved):
    """CPU starvation: nothing caps a kernel's CPU, so the other student's cells and cases only run slower; the
    deadlines leave room for that, and the spinner's children die with its notebook."""
    rows = table_rows(starved["console"])
    assert float(rows["b_solution"][1]) == Q1A_POINTS, starved["console"]
    assert starved["users_after"] == []


@needs_root
def test_a_setsid_daemon_of_one_student_cannot_sabotage_another_students_kernel(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["b_solution"][1]) == Q1A_POINTS, attacked["console"]


@needs_root
def test_a_student_cannot_listen_to_another_students_kernel_messages(sniffed):
    rows = table_rows(sniffed["console"])
    assert float(rows["a_sniffer"][1]) == 0 and float(rows["b_solution"][1]) == Q1A_POINTS, sniffed["console"]


@needs_root
def test_control_on_one_shared_network_the_sniffer_copies_the_solution(sniffed_shared_network):
    rows = table_rows(sniffed_shared_network["console"])
    assert float(rows["a_sniffer"][1]) == Q1A_POINTS, sniffed_shared_network["console"]


@needs_root
def test_without_network_namespaces_the_console_warns(sniffed_shared_network):
    assert "could not get their own network namespace (disabled by the test)" in sniffed_shared_network["console"]


@needs_root
def test_a_student_cannot_read_the_other_submissions(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["c_copycat"][1]) == 0, attacked["console"]


@needs_root
def test_a_student_cannot_read_the_hidden_tests_or_expected_values(attacked):
    rows = table_rows(attacked["console"])
    assert float(rows["d_snoop"][1]) == 0, attacked["console"]


# No test that the saboteur's daemon outlives its runner: the runner itself kills every process of
# its student user after each notebook, so nothing is left for the batch's sweep to name; that
# sweep (isolation.kill_all) is tested directly below.


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


# -- the control: the same attacks succeed when students share one user ----------------------------


# No sabotage control: with one shared user the daemon is still killed by the runner when its own
# notebook ends, so it cannot reach the next student's kernels either (two layers now).


@needs_root
def test_control_with_the_folders_left_open_the_copycat_and_the_snoop_score(shared_user):
    rows = table_rows(shared_user["console"])
    assert float(rows["1_copycat"][1]) == Q1A_POINTS and float(rows["2_snoop"][1]) == Q1A_POINTS, shared_user["console"]


# -- the pieces the isolation rests on ------------------------------------------------------------


@needs_root
def test_kill_all_reaches_a_process_that_left_its_session_and_group(tmp_path):
    record = isolation.create_user(isolation.user_name(99))
    try:
        subprocess.run(
            ["/bin/sh", "-c", "setsid sleep 600 </dev/null >/dev/null 2>&1 &"],
            user=record.pw_uid,
            group=record.pw_gid,
            extra_groups=[],
            cwd="/",
            timeout=60,
        )
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
def test_remove_files_also_removes_the_student_users_sysv_shared_memory_queues_and_semaphores(tmp_path):
    """Issue 20: SysV IPC objects outlive every process of their user, so they go with its files between students."""
    from test_hostile import sysv_ipc_of

    python = shutil.which("python3", path="/usr/bin:/bin")  # the venv's may be closed to the student user
    if python is None:
        pytest.skip("no system python3 for the student user")
    record = isolation.create_user(isolation.user_name(97))
    make = (
        "import ctypes; libc = ctypes.CDLL(None); IPC_CREAT = 0o1000\n"
        "assert min(libc.shmget(0, 2**20, IPC_CREAT | 0o600), libc.msgget(0, IPC_CREAT | 0o600), libc.semget(0, 2, IPC_CREAT | 0o600)) >= 0"
    )
    try:
        subprocess.run(
            [python, "-I", "-c", make],
            user=record.pw_uid,
            group=record.pw_gid,
            extra_groups=[],
            cwd="/",
            check=True,
            timeout=60,
        )
        assert len(sysv_ipc_of(record.pw_uid)) == 3
        isolation.remove_files(record.pw_uid, roots=(tmp_path,))
        assert sysv_ipc_of(record.pw_uid) == []
    finally:
        isolation.remove_user(record.pw_name)


@needs_root
def test_a_command_in_its_own_network_cannot_reach_a_port_open_outside():
    import socket

    if isolation.own_network_works():
        pytest.skip(f"no network namespaces here: {isolation.own_network_works()}")
    with socket.create_server(("127.0.0.1", 0)) as server:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=10)"
        outside = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        inside = subprocess.run(
            isolation.with_own_network([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=120
        )
    assert outside.returncode == 0 and "ConnectionRefusedError" in inside.stderr


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
        # another test worker's batch may sweep it first (it is stale to every batch): then it is gone already
        assert name in isolation.stale_users() or name not in [u.pw_name for u in pwd.getpwall()]
    finally:
        isolation.remove_user(name)
    assert name not in [u.pw_name for u in pwd.getpwall()]


# -- runner crashes reach the instructor -------------------------------------------------------------


def _fake_runner(monkeypatch, code: str) -> None:
    """The runner replaced by a script (it ignores the submission)."""
    monkeypatch.setattr(batch, "runner_command", lambda *args, **kwargs: [sys.executable, "-c", code])


def test_a_crashed_runner_is_reported_with_its_exit_code_and_last_stderr_line_in_the_console(
    tmp_path, bare_autograder, monkeypatch, capsys
):
    _fake_runner(
        monkeypatch,
        "import sys; print('Traceback ...', file=sys.stderr); print('MemoryError: boom', file=sys.stderr); sys.exit(3)",
    )
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    code = batch.main(
        [str(folder), "--autograder", str(bare_autograder), "--out", str(tmp_path / "grades"), "--unsafe-as-me"]
    )
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("ann "))
    assert "runner crashed (exit 3)" in row and "MemoryError: boom" in row
    assert code == 1


def test_a_crashed_runner_is_reported_in_grades_csv(tmp_path, bare_autograder, monkeypatch):
    _fake_runner(monkeypatch, "import sys; print('KeyError: questions', file=sys.stderr); sys.exit(1)")
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    batch.run_batch(folder, bare_autograder, tmp_path / "grades", unsafe_as_me=True)
    rows = list(csv.DictReader((tmp_path / "grades" / "grades.csv").open()))
    ann = next(r for r in rows if r["student"] == "ann")
    assert ann["total"] == "0" and "exit 1" in ann["notes"] and "KeyError: questions" in ann["notes"]


def test_a_runner_that_hangs_is_stopped_and_reported(tmp_path, bare_autograder, monkeypatch):
    _fake_runner(monkeypatch, "import time; time.sleep(600)")
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    monkeypatch.setattr(batch, "HARD_MARGIN", 2.0 - 300.0)  # the grader.json budget is 300 s: stop after 2 s
    folder = submissions(tmp_path, {"ann": [STUB]})
    run = batch.run_batch(folder, bare_autograder, tmp_path / "grades", unsafe_as_me=True)
    assert run.graded[0].problem.startswith("runner did not finish and was stopped")


def test_a_grader_error_inside_the_runner_is_not_a_silent_zero(tmp_path):
    doc = {
        "score": 0,
        "output": "the autograder itself failed (TypeError: x); please tell your instructor.",
        "tests": [],
    }
    problem = batch.runner_problem(
        0, "Traceback (most recent call last):\nTypeError: x\n", _write(tmp_path / "r.json", doc)
    )
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


def test_without_root_it_refuses_to_run_student_code_as_the_instructor(tmp_path, bare_autograder, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    code = batch.main([str(folder), "--autograder", str(bare_autograder), "--out", str(tmp_path / "grades")])
    err = capsys.readouterr().err
    assert code == 2 and "UNSAFE=1" in err and "sudo make grade" in err
    assert not (tmp_path / "grades").exists()


def test_unsafe_as_me_says_so_above_the_table_and_in_every_row(tmp_path, bare_autograder, monkeypatch, capsys):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": None, "bob": None})  # nothing handed in: graded without a kernel
    batch.main([str(folder), "--autograder", str(bare_autograder), "--out", str(tmp_path / "grades"), "--unsafe-as-me"])
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("student "))
    assert lines[header - 1].startswith("UNSAFE: not root")
    assert all("UNSAFE: ran as" in line for line in lines[header + 2 : header + 4])


# -- the class report ---------------------------------------------------------------------------------


def _doc(
    q1a: float, message: str = "", notebooks: tuple[str, ...] = ("01_self_attention",), summary: str = "graded"
) -> dict:
    tests = [{"name": "q1a: rows sum to one", "score": q1a, "max_score": 4.0, "output": message}]
    return {"score": q1a, "output": summary, "tests": tests, "extra_data": {"notebooks": {n: {} for n in notebooks}}}


def _report(docs: dict[str, dict], problems: dict[str, str] | None = None) -> str:
    from a5kit.grader import class_report

    students = [class_report.from_results(s, d, (problems or {}).get(s, "")) for s, d in docs.items()]
    return class_report.render(students, ["q1a"], {"q1a": 4.0}, ["01_self_attention"])


def test_the_class_report_plots_the_score_distribution_of_each_question():
    page = _report({"ann": _doc(4.0), "bob": _doc(0.0, "no")})
    assert page.count("<img") == 1 and "data:image/png;base64," in page


def test_the_class_report_counts_the_commonest_check_messages_once_per_student():
    msg = "expected shape (200, 4), got (4, 200): transposed?"
    page = _report({"ann": _doc(0.0, msg), "bob": _doc(0.0, msg), "cy": _doc(0.0, "other"), "dee": _doc(4.0)})
    assert "<tr><td>2</td><td>expected shape (200, 4), got (4, 200): transposed?</td></tr>" in page


def test_the_class_report_names_students_whose_notebooks_did_not_run():
    page = _report(
        {
            "ann": _doc(4.0),
            "bob": _doc(0.0, notebooks=(), summary="01_self_attention.ipynb: invalid JSON"),
            "cy": {"score": 0, "tests": []},
        },
        problems={"cy": "runner crashed (exit 3): MemoryError"},
    )
    section = page.split("did not run</h2>", 1)[1]
    assert (
        "bob" in section and "invalid JSON" in section and "runner crashed (exit 3)" in section and "ann" not in section
    )


def test_make_grade_writes_the_class_report_next_to_grades_csv(tmp_path, bare_autograder, monkeypatch):
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": None})
    batch.run_batch(folder, bare_autograder, tmp_path / "grades", unsafe_as_me=True)
    page = (tmp_path / "grades" / "report.html").read_text()
    assert "ann" in page.split("did not run</h2>", 1)[1]


def test_a_second_make_grade_keeps_the_first_runs_grades_and_says_where(tmp_path, bare_autograder, monkeypatch):
    """Issue 22: a second run on the same folder overwrote grades.csv and report.html without a word."""
    _fake_runner(monkeypatch, "import sys; print('KeyError: first run', file=sys.stderr); sys.exit(1)")
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    folder = submissions(tmp_path, {"ann": [STUB]})
    out = tmp_path / "grades"
    batch.run_batch(folder, bare_autograder, out, unsafe_as_me=True)
    first = (out / "grades.csv").read_text()
    (out / "written.csv").write_text("filled in by a TA\n")
    _fake_runner(monkeypatch, "import sys; print('KeyError: second run', file=sys.stderr); sys.exit(1)")
    run = batch.run_batch(folder, bare_autograder, out, unsafe_as_me=True)
    (kept,) = list((out / "earlier").iterdir())
    assert (kept / "grades.csv").read_text() == first and (kept / "report.html").exists()
    assert "second run" in (out / "grades.csv").read_text() and "first run" not in (out / "grades.csv").read_text()
    assert (out / "written.csv").read_text() == "filled in by a TA\n"
    assert any(str(kept) in w for w in run.warnings)
