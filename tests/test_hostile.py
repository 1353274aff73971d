"""The bad-input suite: hostile notebooks graded by the real two-process runner (issue 11).

Each test is one attack from the attack report, written as a small notebook: what it does, the
score it must get, and what the Summary tells the student. Submissions hold the reference answer
to q2a (02_dna_cnn) and, where a test needs to show the harm stays in one notebook, the answer to
q1a (01_self_attention). As root the notebooks run as a user made for this test session, so the
grader's "kill every process of the student's user" never touches anything else on the machine.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from student_user import student_user  # noqa: F401  (a fixture)
from test_runner import outputs, score  # one definition of how a question's score and messages are read

from a5kit import nbmeta
from a5kit.grader import results as results_mod
from a5kit.grader.kernel_client import KernelSettings
from a5kit.grader.launcher import set_limits
from a5kit.grader.memory import Scope, owned_bytes
from a5kit.grader.runner import GraderSetup, Limits, grade_submission
from a5kit.grader.settings import Notebook, Question, Settings, source_notebooks

HIDDEN = ROOT / "autograder" / "tests"
QUESTIONS = {"01_self_attention": ["q1a"], "02_dna_cnn": ["q2a"]}
FULL = {"q1a": 4.0, "q2a": 4.0}
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="the user switch needs root (as on Gradescope)")


def _solution(notebook: str, grade_id: str) -> str:
    cell = nbmeta.find(ROOT / "solutions" / notebook, grade_id)
    return re.sub(r"(?m)^\s*### (BEGIN|END) SOLUTION\n", "", nbmeta.source(cell))


ATTENTION = "import numpy as np\n" + _solution("01_self_attention.ipynb", "q1a_solution")
ONE_HOT = "import numpy as np\n" + _solution("02_dna_cnn.ipynb", "q2a-solution")


def notebook(*cells: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a hostile notebook"), *(nbformat.v4.new_code_cell(c) for c in cells)]
    return nbformat.writes(nb)


@pytest.fixture
def drop(shared_tmp: Path) -> Path:
    """A folder the student's code can write to and the test can read (tmp_path is root's only)."""
    folder = shared_tmp / f"drop-{os.urandom(4).hex()}"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def grade(
    tmp_path: Path,
    cache: Path,
    user: str,
    files: dict[str, str | bytes],
    *,
    memory_mb: int = 1200,
    disk_mb: int = 1024,
    **limits: float,
) -> dict:
    """Grade ``files`` as one submission with short limits; the document is checked against the schema."""
    sub = tmp_path / "submission"
    sub.mkdir(parents=True, exist_ok=True)
    tmp_path.chmod(0o755)
    for name, content in files.items():
        (sub / name).write_bytes(content.encode() if isinstance(content, str) else content)
    setup = GraderSetup(
        hidden_tests=HIDDEN,
        questions=QUESTIONS,
        cache=cache,
        limits=Limits(**{"cell": 20.0, "question": 20.0, "total": 200.0, **limits}),
        kernel=KernelSettings(user=user, memory_mb=memory_mb, disk_mb=disk_mb),
    )
    doc = grade_submission(sub, setup)
    results_mod.validate(doc)
    return doc


def uid_of(user: str) -> int:
    return pwd.getpwnam(user).pw_uid if user else os.getuid()


def nothing_left_of(user: str) -> bool:
    """No process and no file in the shared temp folders belongs to the student user any more."""
    if not AS_ROOT:
        return True
    uid = uid_of(user)
    return not Scope(uid).processes() and owned_bytes([Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")], uid) == (0, 0)


# -- 1. no code of the student's ever runs as root ----------------------------------------------

PLANT = """import os, pathlib
home = pathlib.Path.home()
spy = "import os\\nopen({marker!r} + '/uid-' + str(os.getuid()), 'w').close()\\n"
(home / "argparse.py").write_text(spy)
(pathlib.Path.cwd() / "argparse.py").write_text(spy)
site = home / ".local/lib/python3.{minor}/site-packages"
site.mkdir(parents=True, exist_ok=True)
(site / "spy.pth").write_text("import os; open({marker!r} + '/pth-' + str(os.getuid()), 'w').close()\\n")
startup = home / ".ipython/profile_default/startup"
startup.mkdir(parents=True, exist_ok=True)
(startup / "00-kill.py").write_text("import os\\nos._exit(7)\\n")
os._exit(1)
"""


@needs_root
def test_modules_pth_and_startup_files_planted_in_the_kernel_home_never_run_as_root_nor_survive_a_restart(
    tmp_path, tiny_cache, student_user, drop
):
    """Attack 1 (score 999 of 50) and the startup file of attack 3: full marks, no root code, one restart."""
    plant = PLANT.format(marker=str(drop), minor=sys.version_info.minor)
    reach = f"open({str(drop / 'student-was-here')!r}, 'w').close()"
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(ONE_HOT, reach, plant, "x = 1")})
    assert score(doc, "q2a") == FULL["q2a"]
    assert "02_dna_cnn: the kernel was restarted 1 time(s)" in doc["output"]
    assert (drop / "student-was-here").exists()  # the planted code could have left its mark here
    assert not [p.name for p in drop.iterdir() if p.name.endswith("-0")]  # nothing ran as root
    assert nothing_left_of(student_user)


@needs_root
def test_the_kernel_is_the_out_of_memory_killers_first_victim(tmp_path, tiny_cache, student_user):
    spy = "def one_hot_encode_dna(sequence):\n    raise ValueError('oom=' + open('/proc/self/oom_score_adj').read().strip())"
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(spy)})
    assert "oom=1000" in outputs(doc, "q2a")


# -- 2. reads from the student's side never block ------------------------------------------------

FORGE_ANSWER = """import os, a5kit.protocol as w
def forge(path):
    path = str(path)
    {how}
def one_hot_encode_dna(sequence):
    w.write = lambda path, obj: forge(path)
    return None
"""


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("os.mkfifo(path)", "not a regular file"),
        ("os.symlink('/etc/passwd', path)", "cannot be opened safely"),
        ("open(path + '.x', 'wb').close(); os.link(path + '.x', path)", "hard link"),
    ],
    ids=["fifo", "symlink", "hardlink"],
)
def test_an_answer_file_replaced_by_a_fifo_link_or_hard_link_costs_the_question_and_never_hangs(
    tmp_path, tiny_cache, student_user, how, said
):
    """Attack 2: a FIFO where the answer belongs blocked the grader in open() with no results.json."""
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(FORGE_ANSWER.format(how=how))})
    assert score(doc, "q2a") == 0
    assert re.search(said, outputs(doc, "q2a"))


def test_the_hard_deadline_writes_results_json_whatever_the_grader_is_waiting_for(tmp_path, tiny_cache, student_user):
    """The trusted process stops itself at ``deadline`` seconds with a results.json, even mid-cell."""
    files = {"02_dna_cnn.ipynb": notebook(ONE_HOT, "while True:\n    pass")}
    limits = Limits(cell=1000, question=1000, total=1000, deadline=40)
    doc = grade_by_runner(
        tmp_path, tiny_cache, student_user, files, guard=600, limits=limits
    )  # 600 s: a guard; the deadline is 40 s
    assert "hard time limit (40 s)" in doc["output"] and doc["score"] == 0
    assert nothing_left_of(student_user)


# -- 3. one broken notebook costs that notebook only ---------------------------------------------


def test_a_notebook_nested_100000_deep_costs_its_own_questions_only(tmp_path, tiny_cache, student_user):
    deep = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + '}, "cells": []}'
    doc = grade(
        tmp_path, tiny_cache, student_user, {"01_self_attention.ipynb": notebook(ATTENTION), "02_dna_cnn.ipynb": deep}
    )
    assert score(doc, "q2a") == 0 and "nested too deeply" in outputs(doc, "q2a")
    assert score(doc, "q1a") == FULL["q1a"]


def test_lone_surrogates_and_nul_bytes_in_cells_cost_only_their_cells(tmp_path, tiny_cache, student_user):
    text = notebook(ONE_HOT, "label = 'XSURROGATEX'", "x = 'XNULX'")
    text = text.replace("XSURROGATEX", "\\ud800").replace("XNULX", "\\u0000")
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": text})
    assert score(doc, "q2a") == FULL["q2a"]
    assert "null bytes" in doc["output"]


SEND = """from IPython import get_ipython
from jupyter_client.session import Session
kernel = get_ipython().kernel
{attack}
"""
ATTACKS = {
    "parent-header-is-a-list": "msg = kernel.session.msg('stream', {'name': 'stdout', 'text': 'hi'})\n"
    "msg['parent_header'] = [1, 2]\nkernel.session.send(kernel.iopub_socket, msg)",
    "stream-text-is-an-int": "kernel.session.send(kernel.iopub_socket, 'stream', {'name': 'stdout', 'text': 5}, "
    "parent=kernel.get_parent())",
    "wrong-signature": "Session(key=b'not the key').send(kernel.iopub_socket, 'stream', {'name': 'stdout', 'text': 'hi'}, "
    "parent=kernel.get_parent())",
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_a_message_the_grader_cannot_trust_costs_that_notebook_only(tmp_path, tiny_cache, student_user, attack):
    """Attack 3: a forged Jupyter message used to end the whole submission ("Nothing was graded")."""
    files = {
        "01_self_attention.ipynb": notebook(ATTENTION),
        "02_dna_cnn.ipynb": notebook(ONE_HOT, SEND.format(attack=attack)),
    }
    doc = grade(tmp_path, tiny_cache, student_user, files)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == 0
    assert "02_dna_cnn" in doc["output"] and "sent a message the grader cannot trust" in doc["output"]
    assert "sent a message the grader cannot trust" in outputs(doc, "q2a")


# -- 4. nothing of one notebook survives into the next --------------------------------------------

DAEMON = """import os, subprocess, sys, pathlib
pid = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(1)"], start_new_session=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid
pathlib.Path({drop!r}, "daemon").write_text(str(pid))
sleepers = [subprocess.Popen(["sleep", "600"]) for _ in range(20)]
open("/tmp/a5kit-hostile-fill-" + str(os.getpid()), "wb").write(b"x" * 2**20)
os.chdir(pathlib.Path.home())
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(pathlib.Path.home())
"""
CHECK_DAEMON = """
_right = one_hot_encode_dna
def one_hot_encode_dna(sequence):
    import os, pathlib
    pid = int(pathlib.Path({drop!r}, "daemon").read_text())
    if os.path.exists(f"/proc/{{pid}}"):
        raise RuntimeError("the daemon of notebook 1 is still running")
    return _right(sequence)
"""


@needs_root
def test_a_setsid_daemon_sleepers_temp_files_and_a_3000_deep_folder_chain_do_not_outlive_their_notebook(
    tmp_path, tiny_cache, student_user, drop
):
    """Attack 4 and 8: a daemon of notebook 1 reached notebooks 2-4; leftovers outlived the run; cleanup recursed."""
    files = {
        "01_self_attention.ipynb": notebook(ATTENTION, DAEMON.format(drop=str(drop))),
        "02_dna_cnn.ipynb": notebook(ONE_HOT + CHECK_DAEMON.format(drop=str(drop))),
    }
    doc = grade(tmp_path, tiny_cache, student_user, files)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"] + outputs(doc, "q2a")
    assert nothing_left_of(student_user)
    assert not list(Path("/tmp").glob("a5kit-exchange-*/home-*/d"))


# -- 6. each notebook has its own time ------------------------------------------------------------


def test_a_slow_notebook_cannot_use_up_the_time_of_the_next(tmp_path, tiny_cache, student_user):
    """Attack 6: eight slow cells in notebook 1 left no time for notebooks 2-4 (0 of 50)."""
    slow = [ATTENTION, *["import time\ntime.sleep(14)"] * 8]
    files = {"01_self_attention.ipynb": notebook(*slow), "02_dna_cnn.ipynb": notebook(ONE_HOT)}
    doc = grade(tmp_path, tiny_cache, student_user, files, total=90, cell=15)
    assert score(doc, "q2a") == FULL["q2a"]
    assert "01_self_attention" in doc["output"] and "share of the grading time ran out" in doc["output"]


def test_re_running_cells_after_each_crash_counts_against_the_notebooks_own_time(tmp_path, tiny_cache, student_user):
    """Attack 6: 3,600 cells re-run after every os._exit went past Gradescope's 600 s; re-runs now use the notebook's share."""
    crashing = [ATTENTION, *["import time\ntime.sleep(0.5)"] * 30, *["import os\nos._exit(1)"] * 4]
    files = {"01_self_attention.ipynb": notebook(*crashing), "02_dna_cnn.ipynb": notebook(ONE_HOT)}
    doc = grade(tmp_path, tiny_cache, student_user, files, total=60, cell=10)
    assert score(doc, "q2a") == FULL["q2a"]
    assert "01_self_attention: the kernel was restarted" in doc["output"]


# -- 8. bounded memory, output and disk -----------------------------------------------------------


def test_a_huge_answer_of_nested_lists_is_refused_before_it_is_parsed(tmp_path, tiny_cache, student_user):
    """Attack 8: a 60 MB answer of empty lists drove the grader to 1.6 GB."""
    huge = "def one_hot_encode_dna(sequence):\n    return [[]] * 700_000"
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(huge)})
    assert score(doc, "q2a") == 0 and "more than 2 MB" in outputs(doc, "q2a")


def test_huge_error_messages_keep_results_json_small(tmp_path, tiny_cache, student_user):
    """Attack 8: a 30 MB exception message made results.json 172 MB."""
    loud = "def one_hot_encode_dna(sequence):\n    raise ValueError('x' * 1_500_000)"
    doc = grade(
        tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(loud, "raise ValueError('y' * 30_000_000)")}
    )
    assert score(doc, "q2a") == 0
    assert len(json.dumps(doc)) < 200_000


@needs_root
def test_memory_is_counted_over_every_process_of_the_student(tmp_path, tiny_cache, student_user):
    """The watchdog adds up all the student's processes, not only the kernel: three 150 MB children pass 300 MB."""
    hog = (
        "import subprocess, sys, time\n"
        "kids = [subprocess.Popen([sys.executable, '-c', 'import time; x = bytes(150 * "
        "2**20).replace(bytes(1), bytes([1])); time.sleep(60)'],"
        " start_new_session=True) for _ in range(3)]\ntime.sleep(30)"
    )
    doc = grade(
        tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(ONE_HOT, hog)}, memory_mb=300, cell=40
    )
    assert score(doc, "q2a") == FULL["q2a"], json.dumps(doc, indent=1)
    assert "used more than 300 MB of memory" in doc["output"], doc["output"]
    assert nothing_left_of(student_user)


@needs_root
def test_the_student_users_disk_use_is_bounded_in_total_not_only_per_file(tmp_path, tiny_cache, student_user):
    """Attack 8: 3 GB written to /tmp in files under the per-file cap outlived the run."""
    fill = (
        "import os, time\nfor i in range(40):\n"
        "    open(f'/tmp/a5kit-hostile-{os.getpid()}-{i}', 'wb').write(b'x' * 4 * 2**20)\n    time.sleep(0.2)"
    )
    doc = grade(tmp_path, tiny_cache, student_user, {"02_dna_cnn.ipynb": notebook(ONE_HOT, fill)}, disk_mb=40, cell=30)
    assert score(doc, "q2a") == FULL["q2a"], json.dumps(doc, indent=1)
    assert "wrote more than 40 MB of files" in doc["output"], doc["output"]
    assert nothing_left_of(student_user)


# -- issue 12: platforms that refuse a limit, kernels that do not start ----------------------------


def test_a_limit_the_platform_refuses_is_skipped_with_a_message(monkeypatch, capsys):
    import resource

    def refuse(limit, values):
        raise ValueError("not allowed here")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    assert set_limits(1024, 256) == ["RLIMIT_AS", "RLIMIT_FSIZE"]
    assert "RLIMIT_AS of 1024 MB skipped" in capsys.readouterr().err


def test_a_kernel_that_dies_at_start_up_shows_its_last_error_lines(tmp_path, student_user):
    from a5kit.grader.kernel_client import KernelDied, StudentKernel

    kernel = StudentKernel(KernelSettings(user=student_user, address_space_mb=40, start_timeout=60))
    try:
        with pytest.raises(KernelDied, match=r"did not start.*last error output: .*(MemoryError|memory|Error)"):
            kernel.start()
    finally:
        kernel.shutdown()
    assert not kernel.exchange.exists()


def test_the_kernel_may_reserve_address_space_it_never_touches_as_torchs_cuda_build_does(drop, student_user):
    """Importing torch's CUDA build reserves about 3.2 GB of address space; a kernel capped at 4 GB then
    failed honest sklearn imports and cost a perfect submission 17-19 points (issue 19). The grade must
    not depend on the torch build: memory is bounded by what the processes hold, not what they reserve."""
    from a5kit.grader.kernel_client import StudentKernel

    kernel = StudentKernel(KernelSettings(user=student_user, start_timeout=60))
    try:
        kernel.start()
        code = (
            "import mmap, resource\n"
            "reserved = [mmap.mmap(-1, 2 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000,"
            " prot=mmap.PROT_READ) for _ in range(4)]\n"  # 8 GB reserved (0x4000: MAP_NORESERVE), nothing touched
            "import numpy as np, scipy.linalg, sklearn.decomposition\n"
            f"open({str(drop / 'limit')!r}, 'w').write(repr(resource.getrlimit(resource.RLIMIT_AS)))\n"
        )
        outcome = kernel.execute(code, timeout=120)
    finally:
        kernel.shutdown()
    assert outcome.ok, outcome.error
    assert (drop / "limit").read_text() == repr((-1, -1))


def test_disk_use_counts_only_the_users_files(tmp_path):
    (tmp_path / "mine").write_bytes(b"x" * 10_000)
    (tmp_path / "theirs").write_bytes(b"x" * 10_000)
    os.chown(tmp_path / "theirs", 12345, 12345) if AS_ROOT else None
    used, entries = owned_bytes([tmp_path], os.getuid())
    assert used >= 10_000 and entries == (1 if AS_ROOT else 2)


def test_only_one_grader_at_a_time_may_kill_everything_of_a_student_account():
    """Two graders sharing one account (``make grade`` workers) would kill each other's kernels: the second is told no."""
    from a5kit.grader.memory import claim_user

    uid = 3_000_000 + int.from_bytes(os.urandom(2), "big")  # an account nobody has
    first = claim_user(uid)
    try:
        assert first is not None and claim_user(uid) is None
    finally:
        if first is not None:
            os.close(first)
    again = claim_user(uid)
    assert again is not None
    os.close(again)
    for folder in ("/run/lock", "/tmp"):
        Path(folder, f"a5kit-grader-{uid}.lock").unlink(missing_ok=True)


# -- issue 20: what a notebook leaves behind never costs the others their time or memory -----------


def grade_by_runner(
    tmp_path: Path, cache: Path, user: str, files: dict[str, str], guard: float = 300, limits: Limits | None = None
) -> dict:
    """Grade ``files`` with the real runner process (its hard stop included); fails if it runs past ``guard`` s."""
    sub = tmp_path / "submission"
    sub.mkdir()
    tmp_path.chmod(0o755)
    for name, content in files.items():
        (sub / name).write_text(content)
    config = tmp_path / "grader.json"
    points = nbmeta.notebook_points(source_notebooks(ROOT))
    Settings(
        notebooks=tuple(Notebook(name, tuple(Question(q, points[q]) for q in qs)) for name, qs in QUESTIONS.items()),
        user=user,
        limits=limits or Limits(cell=60, question=60, total=240),
    ).write(config)
    results = tmp_path / "results" / "results.json"
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "a5kit.grader.runner",
                str(sub),
                str(results),
                "--tests",
                str(HIDDEN),
                "--cache",
                str(cache),
                "--config",
                str(config),
            ],
            capture_output=True,
            timeout=guard,
            check=True,
        )
    except subprocess.TimeoutExpired:
        if AS_ROOT:  # what the stuck grader left, so later tests start clean
            Scope(uid_of(user)).kill_all()
            for folder in ("/tmp", "/var/tmp", "/dev/shm"):
                for entry in os.scandir(folder):
                    if entry.stat(follow_symlinks=False).st_uid == uid_of(user) and not entry.is_dir(
                        follow_symlinks=False
                    ):
                        os.unlink(entry.path)
        pytest.fail(f"the grader was still running after {guard:.0f} s")
    doc = json.loads(results.read_text())
    results_mod.validate(doc)
    return doc


FORK = "import os, time\nif os.fork() == 0:\n    {detach}time.sleep(600); os._exit(0)"


@needs_root
@pytest.mark.parametrize("detach", ["os.setsid(); ", ""], ids=["setsid", "keeps-the-kernels-descriptors"])
def test_a_forked_child_that_sleeps_on_does_not_hang_the_grader(tmp_path, tiny_cache, student_user, detach):
    """Issue 20: a forked child holding the kernel's stderr pipe blocked its close at shutdown until the hard stop (11/50 in 542 s)."""
    files = {
        "01_self_attention.ipynb": notebook(ATTENTION, FORK.format(detach=detach)),
        "02_dna_cnn.ipynb": notebook(ONE_HOT),
    }
    doc = grade_by_runner(tmp_path, tiny_cache, student_user, files)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert "hard time limit" not in doc["output"]
    assert nothing_left_of(student_user)


SYSV = """import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
segment = libc.shmget(IPC_PRIVATE, ctypes.c_size_t(64 * 2**20), IPC_CREAT | 0o600)
queue = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
semaphores = libc.semget(IPC_PRIVATE, 4, IPC_CREAT | 0o600)
assert min(segment, queue, semaphores) >= 0, os.strerror(ctypes.get_errno())
libc.shmat.restype = ctypes.c_void_p
address = libc.shmat(segment, None, 0)
ctypes.memset(address, 1, 64 * 2**20)
"""


def sysv_ipc_of(uid: int) -> list[str]:
    """The SysV shared memory segments, message queues and semaphore sets that ``uid`` owns or created."""
    found = []
    for kind in ("shm", "msg", "sem"):
        lines = Path("/proc/sysvipc", kind).read_text().splitlines()
        header = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(header, line.split()))
            if uid in (int(row["uid"]), int(row["cuid"])):
                found.append(f"{kind} {line.split()[1]}")
    return found


@needs_root
def test_sysv_shared_memory_queues_and_semaphores_do_not_outlive_their_notebook(tmp_path, tiny_cache, student_user):
    """Issue 20: a 450 MB SysV segment made in notebook 1 outlived every process, and got later notebooks OOM-killed."""
    files = {"01_self_attention.ipynb": notebook(ATTENTION, SYSV), "02_dna_cnn.ipynb": notebook(ONE_HOT)}
    doc = grade(tmp_path, tiny_cache, student_user, files)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert sysv_ipc_of(uid_of(student_user)) == []
    assert nothing_left_of(student_user)


MANY_FILES = """import os
for folder in ("/dev/shm", "/tmp"):
    here = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(75_000):
        os.close(os.open(f"a5kit-hostile-{os.getpid()}-{i}", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=here))
    os.close(here)
"""


@needs_root
def test_removing_150000_files_of_one_notebook_does_not_spend_the_time_of_the_next(tmp_path, tiny_cache, student_user):
    """Issue 20: 150,000 empty files in /dev/shm took one rm process each, outside the notebook's time: 11/50 in 449 s."""
    files = {"01_self_attention.ipynb": notebook(ATTENTION, MANY_FILES), "02_dna_cnn.ipynb": notebook(ONE_HOT)}
    doc = grade_by_runner(tmp_path, tiny_cache, student_user, files)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert nothing_left_of(student_user)


# -- issue 20: the stated limits hold wherever the student's bytes are ------------------------------

FILL_RESPONSES = """import pathlib, time
responses = pathlib.Path.home().parent / "responses"
for i in range(20):
    (responses / f"fill-{i}.bin").write_bytes(b"x" * 4 * 2**20)
    time.sleep(0.2)
time.sleep(10)
"""


@needs_root
def test_files_written_into_the_kernels_responses_folder_count_against_the_disk_limit(
    tmp_path, tiny_cache, student_user
):
    """Issue 20: 2,640 MB written into the grader's exchange folder were not counted (README: 1 GB)."""
    files = {"01_self_attention.ipynb": notebook(ATTENTION), "02_dna_cnn.ipynb": notebook(ONE_HOT, FILL_RESPONSES)}
    doc = grade(tmp_path, tiny_cache, student_user, files, disk_mb=40, cell=30)
    assert "wrote more than 40 MB of files" in doc["output"], doc["output"]
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert nothing_left_of(student_user)


@needs_root
@pytest.mark.parametrize(
    "fill",
    [FILL_RESPONSES, FILL_RESPONSES.replace('pathlib.Path.home().parent / "responses"', 'pathlib.Path("/tmp")')],
    ids=["responses", "tmp"],
)
def test_the_files_of_a_kernel_stopped_for_disk_use_do_not_stop_the_next(tmp_path, tiny_cache, student_user, fill):
    """CI: the restarted kernel was stopped again for the files the stopped one left (checked every second)."""
    files = {"02_dna_cnn.ipynb": notebook(ONE_HOT, fill, "import time\ntime.sleep(3)\nafter_restart = True")}
    doc = grade(tmp_path, tiny_cache, student_user, files, disk_mb=40, cell=30)
    assert "wrote more than 40 MB of files" in doc["output"] and "restarted 1 time(s)" in doc["output"], doc["output"]
    assert score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert nothing_left_of(student_user)


MEMFD = """import os, time
held = []
for i in range(8):
    fd = os.memfd_create(f"hold-{i}")
    for _ in range(10):
        os.write(fd, b"x" * 5 * 2**20)
    held.append(fd)
    time.sleep(0.2)
time.sleep(20)
"""


@needs_root
def test_memory_held_in_memfds_counts_against_the_memory_limit(tmp_path, tiny_cache, student_user):
    """Issue 20: 1,920 MB written into memfds (fds kept open, nothing mapped) were invisible to the RSS watchdog."""
    files = {"01_self_attention.ipynb": notebook(ATTENTION), "02_dna_cnn.ipynb": notebook(ONE_HOT, MEMFD)}
    doc = grade(tmp_path, tiny_cache, student_user, files, memory_mb=300, cell=40)
    assert "used more than 300 MB of memory" in doc["output"], doc["output"]
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert nothing_left_of(student_user)


# -- issue 20: honest heavy code is graded like any other -------------------------------------------

DATALOADER = """import torch
from torch.utils.data import DataLoader, TensorDataset
_right = one_hot_encode_dna
loader = DataLoader(TensorDataset(torch.arange(64.0).reshape(32, 2)), batch_size=4, num_workers=2, persistent_workers=True)
total = sum(float(batch[0].sum()) for batch in loader)
assert total == sum(range(64)), total
def one_hot_encode_dna(sequence):
    assert sum(float(b[0].sum()) for b in loader) == total  # the workers still serve batches when graded
    return _right(sequence)
"""
BIG_KERNEL_WORKERS = (
    "import numpy as np\nheld = np.ones(400 * 2**20 // 8)  # 400 MB the forked workers share, never copy\n" + DATALOADER
)
POOL = """import multiprocessing
_right = one_hot_encode_dna
def _encode(sequence):
    return _right(sequence)
pool = multiprocessing.Pool(2)  # never closed
def one_hot_encode_dna(sequence):
    return pool.apply(_encode, (sequence,))
"""
THREADS = """import threading, time
def _tick():
    while True:
        time.sleep(0.05)
workers = [threading.Thread(target=_tick) for _ in range(3)]  # not daemons: they never end
for w in workers:
    w.start()
"""
COMPILE = """import torch
_right = one_hot_encode_dna
class Scale(torch.nn.Module):
    def forward(self, x):
        return x * 2.0 - x
try:
    _same = torch.compile(Scale())
    _same(torch.ones(3))
    _how = "compiled"
except Exception as err:  # no C compiler for inductor, say: the plain module does the same
    _same, _how = Scale(), f"fell back: {{type(err).__name__}}: {{err}}"[:300]
open({report!r}, "w").write(_how)
def one_hot_encode_dna(sequence):
    return _same(torch.as_tensor(_right(sequence))).numpy()
"""


@needs_root
@pytest.mark.parametrize(
    "heavy",
    [DATALOADER, BIG_KERNEL_WORKERS, POOL, THREADS],
    ids=["dataloader-num-workers-2", "workers-of-a-500-mb-kernel", "pool-left-open", "non-daemon-threads"],
)
def test_honest_code_with_workers_pools_or_threads_scores_full_and_leaves_nothing(
    tmp_path, tiny_cache, student_user, heavy
):
    """Issue 20: worker processes, an open pool or running threads are honest code: full marks, nothing left.

    Forked workers share the kernel's pages: summed as RSS, two workers of a kernel holding 400 MB
    counted about 1.9 GB and were killed under a 1,200 MB limit; shared pages now count once (PSS)."""
    files = {"02_dna_cnn.ipynb": notebook(ONE_HOT, heavy)}
    doc = grade(tmp_path, tiny_cache, student_user, files, cell=120, question=120, total=400)
    assert score(doc, "q2a") == FULL["q2a"], doc["output"] + outputs(doc, "q2a")
    assert "02_dna_cnn:" not in doc["output"], doc["output"]  # no cell failed, nothing was stopped or restarted
    assert nothing_left_of(student_user)


@needs_root
def test_a_solution_compiled_with_torch_compile_scores_full_and_leaves_nothing(
    tmp_path, tiny_cache, student_user, drop
):
    """Issue 20: torch.compile (inductor: a C compiler, worker processes, a cache in the kernel's home) grades like plain code."""
    report = drop / "compile"
    doc = grade(
        tmp_path,
        tiny_cache,
        student_user,
        {"02_dna_cnn.ipynb": notebook(ONE_HOT, COMPILE.format(report=str(report)))},
        cell=300,
        question=120,
        total=500,
    )
    assert score(doc, "q2a") == FULL["q2a"], doc["output"] + outputs(doc, "q2a")
    assert "02_dna_cnn:" not in doc["output"], doc["output"]
    how = report.read_text()
    assert how == "compiled" or how.startswith("fell back"), how
    print(f"torch.compile in the student's kernel: {how}")
    assert nothing_left_of(student_user)


# -- issue 20: the kernel-side server cannot be replaced from the notebook --------------------------

KIT_QUESTION = """import numpy as np

from a5kit.checking import Failure, case


@case(points=1)
def kit_probe_sees_the_students_real_layer(sub):
    weights = sub.kit("parameters", sub.call("make_layer"))
    if sorted(weights) != ["bias", "weight"] or float(np.sum(weights["weight"])) != 3.0:
        raise Failure(f"the probe saw {weights!r}")
"""
FAKE_SERVER = """import torch
import a5kit.kernel_server.server as server
from a5kit import protocol as wire
from pathlib import Path

def make_layer():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.fill_(0.5)
        layer.bias.zero_()
    return layer

_real_serve = server.serve
FAKE = {"weight": [[9.0] * 3] * 2, "bias": [9.0, 9.0]}
server._kit = lambda sub, name, args, kwargs: FAKE
def _fake_serve(requests, responses, number):
    request = wire.Request.from_plain(wire.loads(Path(requests, f"r{number}.npz").read_bytes()))
    if request.kind != "kit":
        return _real_serve(requests, responses, number)
    wire.write(Path(responses, f"r{number}.npz"), wire.Answer(wire.Status.VALUE, FAKE).to_plain())
server.serve = _fake_serve
"""


def test_replacing_the_kernel_servers_serve_and_kit_by_name_changes_no_kit_probe(tmp_path, tiny_cache, student_user):
    """Issue 20: the grader ran ``a5kit.kernel_server.server.serve`` by name, so a notebook could fake every kit probe."""
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "q2a.py").write_text(KIT_QUESTION)
    hidden.chmod(0o700)
    sub = tmp_path / "submission"
    sub.mkdir()
    tmp_path.chmod(0o755)
    (sub / "02_dna_cnn.ipynb").write_text(notebook(ONE_HOT, FAKE_SERVER))
    setup = GraderSetup(
        hidden_tests=hidden,
        questions={"02_dna_cnn": ["q2a"]},
        cache=tiny_cache,
        limits=Limits(cell=60.0, question=60.0, total=200.0),
        kernel=KernelSettings(user=student_user),
    )
    doc = grade_submission(sub, setup)
    probe = [t for t in doc["tests"] if re.search("kit.probe.sees", t["name"])]
    assert probe and probe[0]["score"] == 1, doc["output"] + json.dumps(probe or [t["name"] for t in doc["tests"]])
    assert all(t["score"] == t["max_score"] for t in doc["tests"] if t["name"].startswith("q2a")), doc["tests"]


# -- issue 20: busy children and fork storms are bounded by time and the kill after each notebook ---

STORM = """import os, subprocess, sys, time
busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
children = 0
for _ in range(200):
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    children += 1
"""


@needs_root
def test_a_busy_child_and_200_forked_sleepers_cost_their_notebook_only_and_leave_nothing(
    tmp_path, tiny_cache, student_user
):
    """Issue 20: the kernel has no CPU or process-count limit; the kill of every process of the user after each notebook bounds them."""
    files = {"01_self_attention.ipynb": notebook(ATTENTION, STORM), "02_dna_cnn.ipynb": notebook(ONE_HOT)}
    doc = grade(tmp_path, tiny_cache, student_user, files, cell=60)
    assert score(doc, "q1a") == FULL["q1a"] and score(doc, "q2a") == FULL["q2a"], doc["output"]
    assert nothing_left_of(student_user)


def test_a_kernel_restarted_after_a_watchdog_kill_is_not_reported_dead_for_the_old_reason(monkeypatch):
    """The kill reason belongs to the kernel it killed. CI of the last two stops: a restarted kernel whose helper
    took over 0.2 s to load (a loaded machine) was reported dead with its predecessor's reason, and the
    rest of a correct notebook scored 0. The helper is made slow here so the window is always open."""
    from a5kit.grader import kernel_client
    from a5kit.grader.kernel_client import StudentKernel

    monkeypatch.setattr(kernel_client, "LOAD_SERVER", "import time\ntime.sleep(1)\n" + kernel_client.LOAD_SERVER)
    kernel = StudentKernel(KernelSettings(memory_mb=300, start_timeout=60))
    try:
        kernel.start()
        hog = kernel.execute("x = bytes(400 * 2**20).replace(bytes(1), bytes([1]))", timeout=60)
        assert hog.status == "died" and "300 MB" in hog.error
        assert kernel.broken is None, kernel.broken
        assert kernel.restarts == 1 and kernel.execute("y = 1", timeout=60).ok
    finally:
        kernel.shutdown()
