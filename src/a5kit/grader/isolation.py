"""Keep students apart in ``make grade``: one throw-away user per worker, killed and swept between students.

Root only. A batch creates its users ``a5student-<pid>-<worker>`` (unique per run, so two batches
or parallel tests never share one) and deletes them at the end; users left by a batch that was
killed are found by their dead pid and removed by the next one. Between two students a worker's
user loses every process (by uid: ``setsid`` escapes a process group, not ``kill(-1)`` sent as that
user), every file it owns in the shared temporary folders, and its SysV shared memory segments,
message queues and semaphore sets. :func:`exposed` tells which instructor files a student user
could still read.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from a5kit.grader.memory import SHARED_TMP, remove_ipc, remove_owned

PREFIX = "a5student"
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
_NAME = re.compile(rf"^{PREFIX}-(\d+)-(\d+)$")


class IsolationError(RuntimeError):
    """A student user could not be made, emptied or removed; the message says what to do."""


def is_root() -> bool:
    """Whether this process can switch users (and so isolate students)."""
    return os.geteuid() == 0


def user_name(worker: int, run: int | None = None) -> str:
    """The user of ``worker`` in the batch ``run`` (default: this process)."""
    return f"{PREFIX}-{os.getpid() if run is None else run}-{worker}"


def _tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a user-management tool, retrying while another one holds /etc/passwd's lock."""
    found = shutil.which(
        argv[0], path=os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    )  # root's PATH may lack sbin
    argv = [found or argv[0], *argv[1:]]
    for attempt in range(20):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise IsolationError(
                f"{os.path.basename(argv[0])} is not installed: install the 'passwd' package, or grade with --unsafe-as-me"
            ) from None
        if done.returncode == 0 or "lock" not in done.stderr.lower():
            return done
        time.sleep(0.2 * (attempt + 1))
    return done


def create_user(name: str) -> pwd.struct_passwd:
    """The system user ``name`` (no home, no login shell, its own group), created if missing."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    done = _tool(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name])
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise IsolationError(
            f"could not create the student user {name}: {done.stderr.strip() or done.returncode}"
        ) from None


def remove_user(name: str) -> None:
    """Kill ``name``'s processes, remove its files from the shared temporary folders, then the user and group."""
    try:
        record = pwd.getpwnam(name)
    except KeyError:
        return
    kill_all(record)
    remove_files(record.pw_uid)
    done = _tool(["userdel", name])
    if done.returncode not in (0, 6):  # 6: no such user (removed meanwhile)
        raise IsolationError(f"could not remove the student user {name}: {done.stderr.strip()}")
    with contextlib.suppress(Exception):
        import grp

        grp.getgrnam(name)
        _tool(["groupdel", name])


def stale_users() -> list[str]:
    """Users left by a batch whose process is gone (it was killed before it could remove them)."""
    found = []
    for record in pwd.getpwall():
        match = _NAME.match(record.pw_name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            found.append(record.pw_name)
    return found


def processes_of(uid: int) -> list[int]:
    """Live (not zombie) processes whose real, effective or saved uid is ``uid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if uid in proc.uids() and proc.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def _kill_as(record: pwd.struct_passwd) -> None:
    """``kill -KILL -1`` run as the user: every process of that uid at once, forks included."""
    with contextlib.suppress(FileNotFoundError):  # without procps' kill, kill_all signals pid by pid
        subprocess.run(
            [shutil.which("kill") or "/bin/kill", "-s", "KILL", "--", "-1"],
            user=record.pw_uid,
            group=record.pw_gid,
            extra_groups=[],
            cwd="/",
            env={},
            capture_output=True,
            timeout=30,
        )


def kill_all(record: pwd.struct_passwd, timeout: float = 60.0) -> int:
    """Kill every process of the student user ``record``; returns how many there were."""
    if not _NAME.match(record.pw_name) or record.pw_uid == 0:
        raise IsolationError(f"refusing to kill the processes of {record.pw_name!r}: not a batch student user")
    first = len(processes_of(record.pw_uid))
    deadline = time.monotonic() + timeout
    while pids := processes_of(record.pw_uid):
        if time.monotonic() > deadline:
            raise IsolationError(f"processes {pids[:10]} of {record.pw_name} survived SIGKILL for {timeout:.0f} s")
        _kill_as(record)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return first


def remove_files(uid: int, roots: tuple[Path, ...] = SHARED_TMP) -> int:
    """Remove everything of ``uid`` under ``roots`` (never following links) and its SysV IPC objects; returns how many."""
    return remove_owned(roots, uid, deep=True) + remove_ipc(uid)


def reachable_by_others(path: Path) -> bool:
    """Whether a user with no special rights can read ``path`` (a folder: open names in it) — ACLs aside."""
    try:
        path = path.resolve()
        mode = path.stat().st_mode
        parents_open = all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)
    except OSError:
        return False
    if not parents_open:
        return False
    return bool(mode & (stat.S_IROTH | stat.S_IXOTH)) if stat.S_ISDIR(mode) else bool(mode & stat.S_IROTH)


def exposed(paths: list[Path]) -> list[Path]:
    """The existing ``paths`` a student user could read."""
    return [p for p in paths if p.exists() and reachable_by_others(p)]


def lock(path: Path) -> None:
    """Make ``path`` unreadable to everyone but its owner (the hidden tests, as setup.sh does on Gradescope)."""
    with contextlib.suppress(OSError):
        path.chmod(path.stat().st_mode & 0o700)


@contextlib.contextmanager
def hidden(path: Path) -> Iterator[bool]:
    """While inside, other users cannot open ``path``; yields whether it had to be locked (then restored)."""
    if not reachable_by_others(path):
        yield False
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    path.chmod(mode & ~0o007)
    try:
        yield True
    finally:
        path.chmod(mode)


CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def own_network() -> None:
    """Move this process into a new network namespace with only its own loopback, up (root only).

    A runner and its kernels then talk over a loopback no other student's process can reach: a
    kernel's ZMQ ports, IOPUB included (which anyone could subscribe to without the key), are private.
    """
    import ctypes
    import fcntl
    import socket
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def with_own_network(command: list[str]) -> list[str]:
    """``command`` run in its own network namespace (see :func:`own_network`)."""
    return [sys.executable, "-m", "a5kit.grader.isolation", "own-network", "--", *command]


def own_network_works() -> str:
    """'' when commands can get their own network namespace here, else why not (e.g. a container without CAP_SYS_ADMIN)."""
    probe = (
        "import socket; s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname()).close()"
    )
    try:
        done = subprocess.run(
            with_own_network([sys.executable, "-I", "-c", probe]), capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        return "the probe timed out"
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]


def main(argv: list[str] | None = None) -> int:
    """``python -m a5kit.grader.isolation own-network -- COMMAND...``: exec COMMAND in its own network namespace."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:2] != ["own-network", "--"] or len(args) < 3:
        print("usage: python -m a5kit.grader.isolation own-network -- COMMAND...", file=sys.stderr)
        return 2
    try:
        own_network()
    except OSError as err:
        print(f"isolation: {err}", file=sys.stderr)
        return 97
    os.execvp(args[2], args[2:])
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    raise SystemExit(main())
