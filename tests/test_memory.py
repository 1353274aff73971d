"""The grader's watchdog and clean-up (:mod:`a5kit.grader.memory`), tested directly.

No test measures time: children are waited for with generous deadlines, and the watchdog is
polled until it has acted. Memory stays small (a child is stopped a little past 64 MB).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from student_user import student_user  # noqa: F401  (a fixture)

from a5kit.grader import memory
from a5kit.grader.memory import Scope, Watchdog, owned_bytes, remove_owned, remove_tree

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="another user's processes and files need root")
WAIT = 300  # seconds: generous, for a busy 2-core machine; never reached when things work

GROW = """
import sys, time
chunks = []
for _ in range({chunks}):
    chunks.append(bytearray(8 * 2**20))  # zero-filled: touched, so resident
    time.sleep(0.02)
print("done", flush=True)
time.sleep(600)
"""

SLEEP = "import time; time.sleep(600)"


def child(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **kwargs)


def until(condition, what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` until it holds (a deadline only against hanging, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def gone(proc: subprocess.Popen) -> bool:
    """Whether ``proc`` has ended (the watchdog may reap it itself, so its exit code can read 0)."""
    return proc.poll() is not None


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=WAIT)


def test_a_child_allocating_past_the_limit_is_killed_and_the_reason_reported():
    reasons: list[str] = []
    proc = child(GROW.format(chunks=64))  # up to 512 MB if it were never stopped
    dog = Watchdog(Scope(os.getuid(), ancestor=os.getpid()), limit_mb=64, interval=0.02, on_kill=reasons.append)
    try:
        until(lambda: dog.reason is not None and gone(proc), "the watchdog to kill the child")
    finally:
        dog.stop()
        stop(proc)
    assert dog.reason == reasons[0] == "the notebook used more than 64 MB of memory and was stopped"
    assert dog.peak_mb > 64
    assert proc.stdout.read() == b""  # it never got to the end of its allocations


def test_under_the_limit_nothing_is_killed_and_the_peak_is_recorded():
    proc = child(GROW.format(chunks=4))  # 32 MB, then sleeps
    dog = Watchdog(Scope(os.getuid(), ancestor=os.getpid()), limit_mb=2000, interval=0.02)
    try:
        assert proc.stdout.readline() == b"done\n"
        until(lambda: dog.peak_mb > 32, "the peak to include the child's 32 MB")
        assert proc.poll() is None and dog.reason is None
    finally:
        dog.stop()
        stop(proc)


def test_files_written_past_the_disk_limit_stop_the_scope(tmp_path):
    code = f"""
import os, time
for i in range(40):
    with open(os.path.join({str(tmp_path)!r}, f"f{{i}}"), "wb") as fh:
        fh.write(os.urandom(2**20))
        fh.flush(); os.fsync(fh.fileno())
time.sleep(600)
"""
    proc = child(code)
    dog = Watchdog(
        Scope(os.getuid(), ancestor=os.getpid()), limit_mb=0, interval=0.02, disk=([tmp_path], 8), disk_every=1
    )
    try:
        until(lambda: dog.reason is not None and gone(proc), "the watchdog to kill the child")
    finally:
        dog.stop()
        stop(proc)
    assert dog.reason == "the notebook wrote more than 8 MB of files (or too many files) and was stopped"


class _SlowScope:
    """A scope whose measurement blocks until released and then reports far too much memory."""

    def __init__(self) -> None:
        self.uid = os.getuid()
        self.measuring, self.release = threading.Event(), threading.Event()
        self.kills = 0

    def held_mb(self, limit_mb: float = 0.0) -> float:
        self.measuring.set()
        self.release.wait(WAIT)
        return 10_000.0

    def kill_all(self) -> int:
        self.kills += 1
        return 0


def test_a_watchdog_stopped_in_the_middle_of_a_measurement_kills_nothing_afterwards():
    """A restart stops the old watchdog, then starts the next kernel under the same uid: a measurement
    begun before the stop must not kill that kernel (a slow walk of /tmp outlived stop()'s wait)."""
    scope = _SlowScope()
    dog = Watchdog(scope, limit_mb=64, interval=0.01)  # type: ignore[arg-type]
    assert scope.measuring.wait(WAIT)
    stopper = threading.Thread(target=dog.stop)
    stopper.start()
    assert dog._stop.wait(WAIT)  # stop() has begun ...
    scope.release.set()  # ... and only then does the measurement end, over the limit
    stopper.join(WAIT)
    assert not stopper.is_alive() and scope.kills == 0 and dog.reason is None


def test_a_scope_below_this_process_counts_its_descendants_of_the_uid_only():
    proc = child(f"import subprocess, sys; subprocess.run([sys.executable, '-c', {SLEEP!r}])")
    try:
        scope = Scope(os.getuid(), ancestor=os.getpid())
        until(lambda: len(scope.processes()) == 2, "the child and its grandchild")
        assert proc.pid in {p.pid for p in scope.processes()}
        assert all(p.pid != os.getpid() for p in scope.processes())
        assert set(memory.tree(proc.pid)) == {p.pid for p in scope.processes()}
        assert memory.tree_rss_mb(proc.pid) > 0 and scope.rss_mb() > 0
        assert Scope(os.getuid() + 1, ancestor=os.getpid()).processes() == []
        assert scope.kill_all() == 2
        assert scope.processes() == []
        until(lambda: gone(proc), "the child to end")
    finally:
        stop(proc)


def test_a_process_gone_is_zero_not_an_error():
    proc = child("pass")
    proc.wait(timeout=WAIT)
    assert memory.rss_mb(proc.pid) == 0.0 and memory.tree(proc.pid) == []


@needs_root
def test_every_process_of_a_dedicated_uid_is_counted_even_a_daemon_outside_our_tree(student_user):
    uid = pwd.getpwnam(student_user).pw_uid
    assert Scope.for_user(student_user, uid).ancestor is None  # a dedicated account: the whole machine
    daemon = subprocess.run(
        ["setsid", "-f", "sleep", "600"],
        user=uid,
        cwd="/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=WAIT,
    )
    assert daemon.returncode == 0
    scope = Scope(uid)
    try:
        until(lambda: len(scope.processes()) == 1, "the daemon of the student's uid")
        assert scope.processes()[0].uids().real == uid
        assert (
            Scope(uid, ancestor=os.getpid()).processes() == []
        )  # not our descendant: invisible to a shared-account scope
    finally:
        assert scope.kill_all() >= 1
    assert scope.processes() == []


def test_for_user_keeps_to_our_descendants_for_shared_accounts_and_ourselves():
    assert Scope.for_user("nobody", 65534).ancestor == os.getpid()
    assert Scope.for_user("me", os.getuid()).ancestor == os.getpid()
    assert Scope.for_user("x", 12345, exclusive=False).ancestor == os.getpid()


# -- files ---------------------------------------------------------------------------------------


def _chain(top: Path, depth: int) -> None:
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


@pytest.fixture
def chain(tmp_path):
    """A folder chain 3,000 deep (past PATH_MAX); removed with rm afterwards whatever happens (pytest's own clean-up recurses)."""
    top = tmp_path / "chain"
    _chain(top, 3000)
    yield top
    subprocess.run(["rm", "-rf", "--", str(top)], check=False)


def test_remove_tree_removes_a_3000_deep_folder_chain(chain):
    remove_tree(chain)
    assert not os.path.lexists(chain)


def test_the_fallback_without_rm_removes_a_3000_deep_folder_chain(chain, monkeypatch):
    monkeypatch.setattr(memory.shutil, "which", lambda name: None)
    remove_tree(chain)
    assert not os.path.lexists(chain)


def test_remove_tree_removes_a_link_not_what_it_points_to(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "f").write_text("x")
    (tmp_path / "link").symlink_to(kept)
    remove_tree(tmp_path / "link")
    assert not os.path.lexists(tmp_path / "link") and (kept / "f").exists()


def test_owned_bytes_counts_what_a_uid_wrote(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 100_000)
    used, entries = owned_bytes([tmp_path], os.getuid())
    assert entries == 3 and used >= 200_000
    assert owned_bytes([tmp_path], os.getuid() + 1) == (0, 0)


@needs_root
def test_remove_owned_removes_what_a_uid_left_at_the_top_or_at_any_depth_and_nothing_else(tmp_path, student_user):
    record = pwd.getpwnam(student_user)
    tmp_path.chmod(0o1777)
    shared = tmp_path / "shared"  # a folder of someone else's that everyone may write to, like /tmp itself
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    theirs = [tmp_path / "left", shared / "deep"]
    mine = [tmp_path / "mine", shared / "mine"]
    for path in theirs:
        _chain(path, 50)
        for p in [path, *path.rglob("*")]:
            os.chown(p, record.pw_uid, record.pw_gid, follow_symlinks=False)
    for path in mine:
        path.write_text("keep")
    assert remove_owned([tmp_path], record.pw_uid) == 1  # between notebooks: the top level only
    assert not os.path.lexists(theirs[0]) and os.path.lexists(theirs[1])
    assert remove_owned([tmp_path], record.pw_uid, deep=True) == 1  # between students: at any depth
    assert not any(os.path.lexists(p) for p in theirs)
    assert all(p.read_text() == "keep" for p in mine)


def test_remove_owned_skips_missing_roots(tmp_path):
    assert remove_owned([tmp_path / "missing"], os.getuid() + 1) == 0
