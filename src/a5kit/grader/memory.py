"""The student's processes and files, through psutil: the grader's watchdog, its clean-up, and `make bench`.

Which processes are the student's is a :class:`Scope`: every process of the student's uid when that
account is the grader's own (``a5student`` on Gradescope), or, for an account other programs share
(``nobody``, or no user switch at all), only this grader's descendants running as that uid. The
grader makes itself a child subreaper (:func:`adopt_orphans`), so a ``setsid`` daemon started by a
notebook stays its descendant and cannot escape either scope.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

SHARED_TMP = (
    Path("/tmp"),
    Path("/var/tmp"),
    Path("/dev/shm"),
    Path("/run/lock"),
    Path("/var/lock"),
    Path("/dev/mqueue"),
)  # where any user can leave files (POSIX message queues included, where mounted)
SYSV_IPC = ("shm", "msg", "sem")  # /proc/sysvipc tables: shared memory segments, message queues, semaphore sets
_IPC_RMID = 0
RM_BATCH = 1000  # folders removed by one rm process
SHARED_ACCOUNTS = ("nobody",)  # other programs run as these: never kill all of their processes
_PR_SET_CHILD_SUBREAPER = 36


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are still alive."""
    try:
        root = psutil.Process(pid)
        return [pid, *(p.pid for p in root.children(recursive=True))]
    except psutil.Error:
        return []


def rss_mb(pid: int) -> float:
    """Resident set size of one process in MB (0 when it has gone)."""
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in MB."""
    return sum(rss_mb(p) for p in tree(pid))


@dataclass(frozen=True)
class Scope:
    """The processes that count as the student's: uid ``uid``, anywhere or only below ``ancestor``."""

    uid: int
    ancestor: int | None = None  # None: every process of the uid (a dedicated account)

    @classmethod
    def for_user(cls, user: str, uid: int, exclusive: bool = True) -> Scope:
        """Everywhere for a dedicated account this grader has to itself; only our descendants otherwise."""
        dedicated = exclusive and os.geteuid() == 0 and uid != 0 and uid != os.geteuid() and user not in SHARED_ACCOUNTS
        return cls(uid, None if dedicated else os.getpid())

    def processes(self) -> list[psutil.Process]:
        """The live processes in scope (never this grader itself)."""
        if self.ancestor is None:
            candidates: Iterable[psutil.Process] = psutil.process_iter()
        else:
            try:
                candidates = psutil.Process(self.ancestor).children(recursive=True)
            except psutil.Error:
                candidates = []
        found = []
        for proc in candidates:
            try:
                if proc.pid != os.getpid() and proc.uids().real == self.uid and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except psutil.Error:
                continue
        return found

    def rss_mb(self) -> float:
        """What the processes in scope hold in memory (resident, shared pages counted in each), in MB."""
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20

    def held_mb(self, limit_mb: float = 0.0) -> float:
        """Memory the scope holds, in MB: its pages, its memfds and deleted files kept open, its unattached SysV segments.

        Pages are summed as RSS (cheap) and, only when that passes ``limit_mb``, as PSS + swap (shared
        pages split between the processes that map them): forked workers of a 500 MB kernel share its
        pages, and RSS counted them once per worker. Files with no name (``os.memfd_create``, a
        /dev/shm or /tmp file unlinked while open) hold memory or disk that neither RSS nor a walk of
        the folders sees.
        """
        procs = self.processes()
        pages = sum(_safely(_rss, p) for p in procs)
        if limit_mb and pages > limit_mb * 2**20:
            pages = sum(_safely(_pss_and_swap, p) for p in procs)
        seen: set[tuple[int, int]] = set()
        unnamed = sum(unnamed_file_bytes(p.pid, seen) for p in procs)
        segments = unattached_shm_bytes(self.uid) if self.ancestor is None else 0
        return (pages + unnamed + segments) / 2**20

    def kill_all(self, rounds: int = 50) -> int:
        """SIGKILL every process in scope, again until none is left (a fork storm refills); returns how many."""
        killed = 0
        for _ in range(rounds):
            procs = self.processes()
            if not procs:
                break
            for proc in procs:
                try:
                    proc.send_signal(signal.SIGKILL)
                    killed += 1
                except psutil.Error:
                    continue
            psutil.wait_procs(procs, timeout=1)  # also reaps the ones that are our children
        reap_zombies(self.uid)
        return killed


def _safely(measure: Callable[[psutil.Process], int], proc: psutil.Process) -> int:
    """``measure(proc)``, or 0 when the process has gone or cannot be read."""
    try:
        return measure(proc)
    except (psutil.Error, OSError):
        return 0


def _rss(proc: psutil.Process) -> int:
    return int(proc.memory_info().rss)


def _pss_and_swap(proc: psutil.Process) -> int:
    """Proportional set size plus swap of ``proc`` (/proc/PID/smaps_rollup); RSS where that cannot be read."""
    try:
        full = proc.memory_full_info()
        return full.pss + full.swap
    except (psutil.AccessDenied, AttributeError):
        return proc.memory_info().rss


def unnamed_file_bytes(pid: int, seen: set[tuple[int, int]]) -> int:
    """Bytes of the memfds and deleted files process ``pid`` keeps open, each file counted once over ``seen``."""
    folder = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(folder)
    except OSError:
        return 0
    total = 0
    for fd in fds:
        try:
            target = os.readlink(f"{folder}/{fd}")
            if not (target.startswith("/memfd:") or target.endswith(" (deleted)")):
                continue
            info = os.stat(f"{folder}/{fd}")
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += info.st_blocks * 512
    return total


def unattached_shm_bytes(uid: int) -> int:
    """Resident bytes of the SysV shared memory segments of ``uid`` that no process maps (those are in its pages)."""
    try:
        header, *rows = Path("/proc/sysvipc/shm").read_text().splitlines()
    except (OSError, ValueError):
        return 0
    names, total = header.split(), 0
    for row in rows:
        fields = dict(zip(names, row.split()))
        with contextlib.suppress(KeyError, ValueError):
            if uid in (int(fields["uid"]), int(fields["cuid"])) and int(fields["nattch"]) == 0:
                total += int(fields.get("rss", fields["size"]))
    return total


def reap_zombies(uid: int) -> None:
    """Collect the exit status of our dead children of ``uid`` (orphans we adopted as subreaper)."""
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return
    for child in children:
        try:
            if child.status() == psutil.STATUS_ZOMBIE and child.uids().real == uid:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError, OSError):
            continue


def adopt_orphans(enable: bool) -> bool:
    """Make this process the child subreaper (Linux), so daemonised student processes stay our descendants."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, int(enable), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def claim_user(uid: int) -> int | None:
    """Take this machine's lock on the student account ``uid`` (root only); an open fd, or None if another grader holds it.

    Two graders running as one student account (``make grade`` with several workers) must not
    kill each other's kernels: only the holder of the lock kills every process of the account.
    """
    folder = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")
    try:
        fd = os.open(folder / f"a5kit-grader-{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_uid != os.geteuid():  # planted by someone else: do not trust it
            raise OSError("not ours")
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (OSError, ImportError):
        os.close(fd)
        return None
    return fd


# -- files ---------------------------------------------------------------------------------------


def _walk(
    roots: Iterable[Path | str], descend: Callable[[os.stat_result], bool]
) -> Iterator[tuple[str, os.stat_result]]:
    """(path, lstat) of every entry under ``roots``, iteratively; enters a folder only if ``descend(its lstat)``.

    A folder's entries are listed before they are yielded, so the caller may remove what it is given.
    A root that is a link (``/var/lock`` -> ``/run/lock``) is skipped: its target is a root of its own.
    """
    todo = [str(r) for r in roots if not os.path.islink(r)]
    while todo:
        folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # gone, unreadable, or a path too long to name: skip it
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield entry.path, info
            if stat.S_ISDIR(info.st_mode) and descend(info):
                todo.append(entry.path)


def owned_bytes(roots: Iterable[Path], uid: int, max_entries: int = 200_000) -> tuple[int, int]:
    """Bytes on disk and entries owned by ``uid`` under ``roots``; walks iteratively, never follows links.

    It enters only folders ``uid`` could have written to (its own, or writable by everyone, like
    /tmp), so a large /tmp of other users' files costs nothing to scan.
    """
    total, entries = 0, 0
    for _, info in _walk(roots, lambda info: info.st_uid == uid or bool(info.st_mode & stat.S_IWOTH)):
        if info.st_uid == uid:
            total += info.st_blocks * 512
            entries += 1
            if entries >= max_entries:
                break
    return total, entries


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, however deep (``rm -rf``; never follows symlinks, stays on its file system)."""
    if not os.path.lexists(path):
        return
    rm = shutil.which("rm")
    if rm:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                [rm, "-rf", "--one-file-system", "--", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
                timeout=300,
            )
    if os.path.lexists(path):
        _remove_iteratively(Path(path))


def _remove_iteratively(root: Path) -> None:
    """The fallback of :func:`remove_tree`: no recursion, and no long paths (a chain 3,000 deep is past PATH_MAX).

    It walks with one open folder at a time, relative to it (``dir_fd``): down into the first
    sub-folder, removing files on the way, and back up through ``..`` (checked to be the folder it
    came from) to remove the emptied one.
    """
    if not os.path.isdir(root) or os.path.islink(root):
        with contextlib.suppress(OSError):
            os.unlink(root)
        return
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        fd = os.open(root, flags)
    except OSError:
        return
    names: list[str] = []  # the path from root down to the open folder
    seen: list[tuple[int, int]] = []  # (device, inode) of each folder above the open one
    try:
        while True:
            sub = None
            with contextlib.suppress(OSError):
                for entry in os.scandir(fd):
                    if entry.is_dir(follow_symlinks=False):
                        sub = entry.name
                        break
                    with contextlib.suppress(OSError):
                        os.unlink(entry.name, dir_fd=fd)
            if sub is not None:
                try:
                    inner = os.open(sub, flags, dir_fd=fd)
                except OSError:
                    return
                here = os.fstat(fd)
                seen.append((here.st_dev, here.st_ino))
                names.append(sub)
                os.close(fd)
                fd = inner
                continue
            if not names:
                break
            try:
                up = os.open("..", flags, dir_fd=fd)
            except OSError:
                return
            os.close(fd)
            fd = up
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != seen.pop():  # moved while we worked: stop rather than remove elsewhere
                return
            with contextlib.suppress(OSError):
                os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(root)


def remove_owned(roots: Iterable[Path], uid: int, deep: bool = False, deadline: float | None = None) -> int:
    """Remove the entries under ``roots`` (e.g. /tmp) that belong to ``uid``, in one pass; returns how many.

    Files go in this process (``unlink`` relative to their open folder, links never followed): one
    ``rm`` per file cost 450 s for 150,000 files. Folders of ``uid`` go whole, many per ``rm -rf``.
    Without ``deep`` only the top level of each root is looked at (between the notebooks of one
    student: what it left deeper is its own business). With ``deep``, folders of others are searched
    too, if others may enter them (between two students of ``make grade``: nothing of one may reach
    the next; what is below a folder closed to ``uid``, like ``/tmp/pytest-of-root``, it cannot have
    written). At ``deadline`` (monotonic) it stops, leaving the rest to the next clean-up.
    """
    removed, folders = 0, []
    todo: list[tuple[str, tuple[int, int] | None]] = [(str(r), None) for r in roots if not os.path.islink(r)]
    while todo and not _past(deadline):
        folder, expected = todo.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            here = os.fstat(fd)
            if (
                expected is not None and (here.st_dev, here.st_ino) != expected
            ):  # swapped since it was listed: not ours to enter
                continue
            for seen, entry in enumerate(os.scandir(fd)):
                if seen % 1000 == 999 and _past(deadline):
                    break
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                path = os.path.join(folder, entry.name)
                if info.st_uid == uid and stat.S_ISDIR(info.st_mode):
                    folders.append(path)
                elif info.st_uid == uid:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.name, dir_fd=fd)
                        removed += 1
                elif deep and stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IXOTH:
                    todo.append((path, (info.st_dev, info.st_ino)))
        finally:
            os.close(fd)
    return removed + _remove_folders(folders, deadline)


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


def _remove_folders(folders: list[str], deadline: float | None) -> int:
    """Remove whole ``folders`` with few ``rm -rf`` processes (each bounded), then one by one what is left."""
    rm = shutil.which("rm")
    if rm is not None:
        for start in range(0, len(folders), RM_BATCH):
            seconds = 300.0 if deadline is None else deadline - time.monotonic()
            if seconds <= 0:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                subprocess.run(
                    [rm, "-rf", "--one-file-system", "--", *folders[start : start + RM_BATCH]],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    timeout=seconds,
                )
    for folder in folders:
        if os.path.lexists(folder) and not _past(deadline):
            _remove_iteratively(Path(folder))
    return sum(not os.path.lexists(folder) for folder in folders)


def sysv_ipc_of(uid: int) -> list[tuple[str, int]]:
    """(table, id) of each SysV IPC object that ``uid`` owns or created (read from /proc/sysvipc)."""
    found = []
    for table in SYSV_IPC:
        try:
            header, *rows = Path("/proc/sysvipc", table).read_text().splitlines()
        except (OSError, ValueError):
            continue
        names = header.split()
        for row in rows:
            fields = dict(zip(names, row.split()))
            with contextlib.suppress(KeyError, ValueError, IndexError):
                if uid in (int(fields["uid"]), int(fields["cuid"])):
                    found.append((table, int(fields[names[1]])))  # shmid, msqid or semid
    return found


def remove_ipc(uid: int) -> int:
    """Remove every SysV shared memory segment, message queue and semaphore set of ``uid``; returns how many.

    They outlive every process: a 450 MB segment of one notebook got the later ones OOM-killed.
    Root only (others get EPERM, and nothing is removed).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    removed = 0
    for table, ident in sysv_ipc_of(uid):
        if table == "sem":
            done = libc.semctl(ident, 0, _IPC_RMID)
        else:
            done = (libc.shmctl if table == "shm" else libc.msgctl)(ident, _IPC_RMID, None)
        removed += done == 0
    return removed


class Watchdog:
    """Polls what the student holds; calls ``on_kill`` and kills the scope when it passes a limit.

    State is real here: a thread, the peak seen, and whether it had to kill (and why).
    """

    def __init__(
        self,
        scope: Scope,
        limit_mb: float,
        interval: float = 0.1,
        on_kill: Callable[[str], None] | None = None,
        disk: tuple[list[Path], float] | None = None,
        disk_every: int = 10,
    ) -> None:
        self.scope, self.limit_mb, self.interval, self.on_kill = scope, limit_mb, interval, on_kill
        self.disk, self.disk_every = disk, disk_every
        self.peak_mb = 0.0
        self.reason: str | None = None
        self._stop = threading.Event()
        self._killing = threading.Lock()  # held while deciding to kill and killing, so stop() can wait it out
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{scope.uid}", daemon=True)
        self._thread.start()

    def _over(self, tick: int) -> str | None:
        used = self.scope.held_mb(self.limit_mb)
        self.peak_mb = max(self.peak_mb, used)
        if self.limit_mb and used > self.limit_mb:
            return f"the notebook used more than {self.limit_mb:.0f} MB of memory and was stopped"
        if self.disk is not None and tick % self.disk_every == 0:
            roots, limit_mb = self.disk
            written, entries = owned_bytes(roots, self.scope.uid)
            if written > limit_mb * 2**20 or entries >= 200_000:
                return f"the notebook wrote more than {limit_mb:.0f} MB of files (or too many files) and was stopped"
        return None

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self.interval):
            tick += 1
            reason = self._over(tick)
            if reason is not None:
                with self._killing:
                    if self._stop.is_set():  # stopped while measuring: the scope may hold the next kernel already
                        return
                    self.reason = reason
                    if self.on_kill:
                        self.on_kill(reason)
                    self.scope.kill_all()
                return

    def stop(self) -> None:
        """Stop polling. Once this returns, this watchdog kills nothing more (a kill under way has finished)."""
        self._stop.set()
        with self._killing:
            pass
        self._thread.join(timeout=5)  # a measurement still running after that can no longer kill
