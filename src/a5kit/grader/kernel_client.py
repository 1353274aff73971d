"""The grader's handle on one student kernel: start it as the student's user, run code with a
deadline, interrupt or restart it, watch its memory and disk, and leave nothing behind.

It uses jupyter_client directly (not nbclient) because the grader needs per-call deadlines, a
memory watchdog, output it can drop (100 MB of prints must not reach results.json or memory), and
a restart that keeps grading; nbclient stops a notebook at the first dead kernel.

Everything the kernel sends is untrusted: the student's code holds the connection key, so a
message may be forged, malformed or huge. Messages are size-capped by zmq before they are read,
checked field by field after, and one the grader cannot trust ends that notebook (``broken``), never
the submission. Each start gets a fresh home, IPython folder and connection key, created by root,
so nothing a previous kernel planted (startup files, ``.pth``, modules) is run again.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import logging
import os
import pwd
import queue
import secrets
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from a5kit.grader.launcher import FILE_SIZE_MB
from a5kit.grader.memory import SHARED_TMP, Scope, Watchdog, remove_ipc, remove_owned, remove_tree
from a5kit.grader.settings import KERNEL_DISK_MB, KERNEL_MEMORY_MB

KERNEL_NAME = "a5kit-student"
KEEP_OUTPUT = 4000  # characters of a cell's error output kept for messages
MAX_MESSAGE_BYTES = 4 * 2**20  # zmq drops a kernel message larger than this before the grader reads it
MAX_QUEUED = 16  # messages zmq buffers per socket: with the cap above, at most 64 MB per channel
STDERR_TAIL = 8192  # bytes of the kernel's stderr kept, to explain a kernel that does not start
ROOT_CWD = "/"  # the launcher starts here (root-owned): never in a folder the student can write
ABANDON_CLEANUP_SECONDS = 30.0  # at the hard stop, files are removed for at most this long (results.json is written)
# A request the kernel shows no sign of having read (no status, no output, no reply) after this many
# seconds is counted lost: ipykernel 7.0-7.3 now and then leave a request unread and sit idle forever
# (ipython/ipykernel#1529). The kernel is restarted and the code run again once, so a fault of the
# Jupyter kernel never reads as the student's infinite loop. A kernel that has read a request says
# "busy" within milliseconds, even on a loaded machine.
LOST_AFTER = 30.0
log = logging.getLogger("a5kit.grader")
SERVER_FILE = str(importlib.util.find_spec("a5kit.kernel_server.server").origin)  # type: ignore[union-attr]  # root-owned; not imported here
# Run in each fresh kernel before any of the notebook's code: a private copy of the server, executed
# from its file and bound to a builtin name only this grader knows, so a notebook that replaces
# ``a5kit.kernel_server.server.serve`` (or ``_kit``, ``_answer``) by name changes nothing the grader runs.
LOAD_SERVER = """import builtins, importlib.util
spec = importlib.util.spec_from_file_location("a5kit.kernel_server.server", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
setattr(builtins, name, module.serve)
"""


@dataclass
class Outcome:
    """How one piece of code ended: ok, error (it raised), timeout, died (the kernel is gone),
    skipped (not run), broken (the kernel can no longer be used for this notebook), or lost (the
    kernel never read it: it was restarted, and the caller may run the code again)."""

    status: str
    error: str = ""  # "NameError: name 'x' is not defined" for status error
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class KernelSettings:
    user: str = ""  # run as this user when the grader is root ("" = as ourselves)
    memory_mb: int = KERNEL_MEMORY_MB  # the watchdog kills the student's processes above this resident size
    # RLIMIT_AS, 0 = none. Off by default: importing torch's CUDA build reserves about 3.2 GB of
    # address space it never touches, so any cap small enough to matter fails honest imports and
    # makes the grade depend on the torch build. Memory is bounded by what the student's processes
    # hold (the watchdog above, and the container's cgroup), not by what they reserve.
    address_space_mb: int = 0
    file_mb: int = FILE_SIZE_MB  # RLIMIT_FSIZE: one file at most this large
    disk_mb: int = KERNEL_DISK_MB  # all files of the student's user (home, responses/, /tmp, /var/tmp, /dev/shm) at most this large
    start_timeout: float = 60.0  # seconds for a kernel to answer its first request
    max_restarts: int = 5  # a notebook whose kernel dies more often than this is not graded further
    exclusive_user: bool = True  # no other grader uses this account now: all of its processes may be killed
    env: dict[str, str] = field(default_factory=dict)  # A5KIT_MODE=replay, A5KIT_CACHE, ... for the kernel


class KernelDied(RuntimeError):
    """The kernel exited (os._exit, a crash, the memory limit) or could not start."""


class _Lost(Exception):
    """The kernel never read the grader's first request (see LOST_AFTER)."""


class _Untrusted(Exception):
    """A message from the kernel that the grader will not act on."""


def _check_message(msg: Any) -> dict[str, Any]:
    """``msg`` if it has the shape of a Jupyter iopub message; raises :class:`_Untrusted` naming what is wrong."""
    if not isinstance(msg, dict):
        raise _Untrusted("not a message")
    for key in ("header", "parent_header", "content"):
        if not isinstance(msg.get(key), dict):
            raise _Untrusted(f"its {key} is not an object")
    kind, content = msg.get("msg_type"), msg["content"]
    if not isinstance(kind, str):
        raise _Untrusted("its type is not text")
    if kind == "stream" and not isinstance(content.get("text"), str):
        raise _Untrusted("its printed output is not text")
    if kind == "error" and not all(isinstance(content.get(k, ""), str) for k in ("ename", "evalue")):
        raise _Untrusted("its error is not text")
    if kind == "status" and not isinstance(content.get("execution_state"), str):
        raise _Untrusted("its status is not text")
    return msg


class _Tail:
    """The last bytes the kernel writes to stderr, through a pipe only this grader reads; the rest is dropped.

    A thread polls the read end (never a blocking read) and closes it itself, so a student process
    that keeps the write end open (a forked child) can never make the grader wait at shutdown.
    """

    def __init__(self) -> None:
        self.data: collections.deque[int] = collections.deque(maxlen=STDERR_TAIL)
        self._read_end, self.write_end = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True, name="kernel-stderr")
        self._thread.start()

    def _read(self) -> None:
        poller = select.poll()
        poller.register(self._read_end, select.POLLIN)
        try:
            while not self._stop.is_set():
                if poller.poll(200) and not self._read_some():
                    return
            for _ in range(16):  # what was already written when told to stop (a dying kernel's last words)
                if not (poller.poll(0) and self._read_some()):
                    return
        finally:
            os.close(self._read_end)

    def _read_some(self) -> bool:
        """Keep what can be read now (poll said so: this does not block); False at end of file."""
        try:
            chunk = os.read(self._read_end, 65536)
        except OSError:
            return False
        self.data.extend(chunk)
        return bool(chunk)

    def close_write_end(self) -> None:
        """Close the grader's copy of the write end, once the kernel has its own."""
        with contextlib.suppress(OSError):
            os.close(self.write_end)

    def stop(self) -> None:
        """Stop reading (at most a fraction of a second, whoever holds the write end)."""
        self._stop.set()
        self._thread.join(timeout=2)

    def lines(self, count: int = 6) -> str:
        """The last ``count`` non-empty lines, as text."""
        text = bytes(self.data).decode("utf-8", "replace")
        kept = [line.strip() for line in text.splitlines() if line.strip()][-count:]
        return " | ".join(line[:300] for line in kept)


class StudentKernel:
    """One ipykernel for one notebook. State is real: the process, its client, folders and watchdog."""

    def __init__(self, settings: KernelSettings, workdir: Path | None = None) -> None:
        self.settings = settings
        self.as_user = bool(settings.user) and os.geteuid() == 0
        self.exchange = Path(tempfile.mkdtemp(prefix="a5kit-exchange-"))
        self.exchange.chmod(0o711)  # the student may pass through, not list
        self.requests = self.exchange / "requests"  # written by the grader, read by the kernel
        self.responses = self.exchange / "responses"  # written by the kernel, read by the grader
        self.requests.mkdir(mode=0o755)
        self.requests.chmod(0o755)
        self.responses.mkdir(mode=0o700)
        if self.as_user:
            record = pwd.getpwnam(settings.user)
            self.uid, self.gid = record.pw_uid, record.pw_gid
            self.scope = Scope.for_user(settings.user, self.uid, settings.exclusive_user)
            os.chown(self.responses, self.uid, self.gid)
        else:
            self.uid, self.gid = os.getuid(), os.getgid()
            self.scope = Scope(self.uid, os.getpid())
        self.home = self.exchange / "home-0"
        self.spec_dir = Path(tempfile.mkdtemp(prefix="a5kit-kernelspec-"))
        self.km: KernelManager | None = None
        self.kc: Any = None
        self.monitors: list[
            zmq.Socket
        ] = []  # zmq reports here when it drops a connection (a message over the size cap)
        self.context: zmq.Context | None = None
        self.watchdog: Watchdog | None = None
        self.stderr: _Tail | None = None
        self.peak_mb = 0.0
        self.starts = 0
        self.restarts = 0
        self.killed_because: str | None = None
        self.broken: str | None = None  # why this kernel cannot be used any more (the notebook stops here)
        self.deadline = float("inf")  # monotonic time after which no (re)start is attempted
        self.warnings: list[str] = []
        self.server_name = ""  # the builtin name of this start's private server (see LOAD_SERVER)

    # -- lifecycle ------------------------------------------------------------------------
    def _fresh_home(self) -> Path:
        """A new, empty home for this start (root creates it, then gives it to the student)."""
        home = self.exchange / f"home-{self.starts}"
        home.mkdir(mode=0o700)
        for sub in (".ipython", ".mpl", ".cache", "tmp"):
            (home / sub).mkdir(mode=0o700)
            os.chown(home / sub, self.uid, self.gid)
        os.chown(home, self.uid, self.gid)
        return home

    def _write_spec(self, connection: Path) -> None:
        argv = [
            sys.executable,
            "-I",
            "-m",
            "a5kit.grader.launcher",
            "--connection",
            str(connection),
            "--workdir",
            str(self.home),
            "--address-space-mb",
            str(self.settings.address_space_mb),
            "--file-mb",
            str(self.settings.file_mb),
        ]
        if self.as_user:
            argv += ["--user", self.settings.user]
        argv += ["--", "--HistoryManager.enabled=False"]
        folder = self.spec_dir / KERNEL_NAME
        folder.mkdir(exist_ok=True)
        (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "student", "language": "python"}))

    def _env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
        env = {k: v for k, v in os.environ.items() if k in keep}
        home = self.home
        env.update(
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
            OPENBLAS_NUM_THREADS="1",
            MPLBACKEND="Agg",
            PYTHONDONTWRITEBYTECODE="1",
            HOME=str(home),
            MPLCONFIGDIR=str(home / ".mpl"),
            IPYTHONDIR=str(home / ".ipython"),
            XDG_CACHE_HOME=str(home / ".cache"),
            TMPDIR=str(home / "tmp"),
            TORCHINDUCTOR_CACHE_DIR=str(home / "tmp" / "torchinductor"),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            A5KIT_AUTOGRADER="1",
            TQDM_DISABLE="1",
        )
        env.update(self.settings.env)
        return env

    def start(self) -> None:
        """Start a kernel in a fresh home with a fresh key; raises KernelDied (with its stderr) if it does not answer.

        A kernel that never reads its first request (LOST_AFTER) is replaced by one more fresh kernel.
        """
        for attempt in range(2):
            try:
                return self._start_once()
            except _Lost:
                if attempt == 0:
                    self.warnings.append(
                        "a new kernel never read the grader's first request (a fault of the Jupyter "
                        "kernel); it was started again"
                    )
        raise KernelDied(
            "the notebook's kernel never read the grader's requests, twice (a fault of the Jupyter kernel, not "
            "of the notebook)"
        )

    def _start_once(self) -> None:
        timeout = min(self.settings.start_timeout, self.deadline - time.monotonic())
        if timeout <= 1:
            raise KernelDied("the notebook's time ran out before its kernel could be started")
        self.starts += 1
        self.killed_because = None  # the reason the last kernel was killed is not this one's (its watchdog is stopped)
        self.home = self._fresh_home()
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.context.setsockopt(zmq.RCVHWM, MAX_QUEUED)
        connection = self.exchange / f"connection-{self.starts}.json"
        ksm = KernelSpecManager(kernel_dirs=[str(self.spec_dir)])
        self.km = KernelManager(
            kernel_name=KERNEL_NAME, kernel_spec_manager=ksm, connection_file=str(connection), context=self.context
        )
        self._write_spec(connection)
        self.stderr = _Tail()
        try:
            self.km.start_kernel(
                env=self._env(),
                cwd=ROOT_CWD,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr.write_end,
                stdin=subprocess.DEVNULL,
            )
        finally:
            self.stderr.close_write_end()
        process = self.km.provisioner.process  # type: ignore[union-attr]
        self.kc = self.km.client(context=self.context)
        self.kc.start_channels()
        self.monitors = [
            channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            for channel in (self.kc.shell_channel, self.kc.iopub_channel)
        ]
        try:
            self.kc.wait_for_ready(timeout=timeout)
        except Exception as err:  # RuntimeError (died), TimeoutError, or a malformed reply
            log.warning("the kernel did not start", exc_info=True)
            detail = (
                "it did not answer in time"
                if isinstance(err, TimeoutError) or "timed out" in str(err).lower()
                else "it exited"
            )
            self._stop_processes()
            tail = self.stderr.lines() if self.stderr else ""
            raise KernelDied(
                f"the notebook's kernel did not start ({detail})" + (f"; its last error output: {tail}" if tail else "")
            ) from None
        self._check_oom_score(process.pid)
        own = [self.home, self.responses]  # every folder the grader made for the student to write in
        roots = (
            [*own, *SHARED_TMP] if self.scope.ancestor is None else own
        )  # a shared account's files elsewhere are not ours
        disk = (roots, float(self.settings.disk_mb)) if self.settings.disk_mb else None
        self.watchdog = Watchdog(self.scope, self.settings.memory_mb, on_kill=self._note_kill, disk=disk)
        self._load_server()

    def _load_server(self) -> None:
        """Load the private copy of the kernel-side server while the kernel is still pristine; raises KernelDied if it fails."""
        assert self.kc is not None
        name = f"_a5kit_serve_{secrets.token_hex(8)}"
        code = f"exec({LOAD_SERVER!r}, {{'path': {SERVER_FILE!r}, 'name': {name!r}}})"
        start = time.monotonic()
        deadline = min(start + self.settings.start_timeout, self.deadline)
        outcome = self._wait(self.kc.execute(code, store_history=False, allow_stdin=False), deadline, start)
        if outcome.status == "lost":
            self._stop_processes()
            raise _Lost
        if not outcome.ok:
            self._stop_processes()
            raise KernelDied(
                f"the grader's helper could not be loaded in the notebook's kernel ({outcome.status}: {outcome.error[:300]})"
            )
        self.server_name = name

    def serve_code(self, tag: str) -> str:
        """The code that makes the kernel answer request ``tag`` through its private server."""
        return f"{self.server_name}({str(self.requests)!r}, {str(self.responses)!r}, {tag!r})"

    def _check_oom_score(self, pid: int) -> None:
        try:
            score = Path(f"/proc/{pid}/oom_score_adj").read_text().strip()
        except OSError:
            return
        if score != "1000" and os.geteuid() == 0:
            self.warnings.append(
                f"the kernel's oom_score_adj is {score}, not 1000: it is not the first victim of the OOM killer"
            )

    def _note_kill(self, reason: str) -> None:
        self.killed_because = reason

    def _stop_processes(self) -> None:
        """Kill every process of the student's first, then stop the client and the kernel; remove the home.

        Killing comes first so that nothing after it waits on what a student process holds (a
        forked child keeping the kernel's pipes or sockets open hung the grader to its hard stop).
        """
        if self.watchdog is not None:
            self.watchdog.stop()
            self.peak_mb = max(self.peak_mb, self.watchdog.peak_mb)
            self.watchdog = None
        self.scope.kill_all()
        if self.as_user and self.scope.ancestor is None:
            remove_ipc(self.uid)
        if self.stderr is not None:
            self.stderr.stop()
        for monitor in self.monitors:
            monitor.close(linger=0)
        self.monitors = []
        if self.kc is not None:
            try:
                for channel in (self.kc.shell_channel, self.kc.iopub_channel):
                    channel.socket.disable_monitor()
            except Exception:
                pass
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            with contextlib.suppress(Exception):
                self.km.shutdown_kernel(now=True)
            with contextlib.suppress(Exception):
                self.km.cleanup_resources(restart=False)
            self.km = None
        if self.context is not None:
            self.context.destroy(linger=0)
            self.context = None
        remove_tree(self.home)

    def restart(self) -> None:
        """A fresh kernel in place of a dead or stuck one (the notebook's definitions must be re-run)."""
        self._stop_processes()
        self._clear_counted_files()
        self.restarts += 1
        if self.restarts > self.settings.max_restarts:
            self.broken = f"the kernel died {self.restarts} times; the rest of this notebook was not graded"
            return
        try:
            self.start()
        except KernelDied as err:
            self.broken = f"{err}; the rest of this notebook was not graded"

    def _clear_counted_files(self) -> None:
        """Remove what the stopped kernel wrote where the disk watchdog counts (responses/ and, for a
        dedicated user, its files in /tmp & co.), so its files cannot stop the next kernel too. The
        notebook's cells are re-run after a restart, so they write again what they need."""
        remove_tree(self.responses)
        self.responses.mkdir(mode=0o700)
        if self.as_user:
            os.chown(self.responses, self.uid, self.gid)
            if self.scope.ancestor is None:
                remove_owned(SHARED_TMP, self.uid, deadline=time.monotonic() + ABANDON_CLEANUP_SECONDS)

    def _give_up(self, reason: str) -> Outcome:
        """Mark the kernel unusable for this notebook and stop it."""
        self.broken = reason
        self._stop_processes()
        return Outcome("broken", reason)

    def shutdown(self, cleanup_deadline: float | None = None) -> None:
        """Stop everything of this kernel and remove its folders (and, for a dedicated user, its files in /tmp & co.).

        The user's files are removed until ``cleanup_deadline`` (monotonic); the rest goes at the next clean-up.
        """
        self._stop_processes()
        if self.as_user and self.scope.ancestor is None:
            remove_owned(SHARED_TMP, self.uid, deadline=cleanup_deadline)
        remove_tree(self.spec_dir)
        remove_tree(self.exchange)

    def abandon(self) -> None:
        """From another thread, when the grader must exit now: kill the student's processes, remove the folders."""
        self.scope.kill_all()
        if self.as_user and self.scope.ancestor is None:
            remove_ipc(self.uid)
            remove_owned(SHARED_TMP, self.uid, deadline=time.monotonic() + ABANDON_CLEANUP_SECONDS)
        remove_tree(self.spec_dir)
        remove_tree(self.exchange)

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    # -- running code ---------------------------------------------------------------------
    def execute(self, code: str, timeout: float) -> Outcome:
        """Run ``code``; after ``timeout`` seconds interrupt it (and restart if it will not stop)."""
        if self.broken is not None:
            return Outcome("broken", self.broken)
        assert self.kc is not None
        start = time.monotonic()
        self.killed_because = None
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        outcome = self._wait(msg_id, start + max(timeout, 0.1), start)
        if outcome.status == "timeout":
            self._interrupt(msg_id)
        elif outcome.status == "lost":
            log.warning("the kernel never read a request after %.0f s; restarting it", outcome.seconds)
            self.warnings.append(
                f"the kernel never read a request after {outcome.seconds:.0f} s (a fault of the Jupyter "
                "kernel); it was restarted and the code run again"
            )
            self.restart()
        elif outcome.status == "died":
            self.restart()
        return outcome

    def _reply(self, msg_id: str) -> dict[str, Any] | None:
        """The content of the kernel's execute_reply to ``msg_id`` if it has come (shell channel, not waiting)."""
        assert self.kc is not None
        while True:
            try:
                msg = _check_message(self.kc.get_shell_msg(timeout=0))
            except queue.Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_reply":
                return msg["content"]

    def _dropped(self) -> bool:
        """Whether zmq dropped a connection to the kernel since the last look (a message over the size cap)."""
        dropped = False
        for monitor in self.monitors:
            while monitor.poll(0):
                monitor.recv_multipart()
                dropped = True
        return dropped

    def _wait(self, msg_id: str, deadline: float, start: float) -> Outcome:
        """Follow the output of ``msg_id`` until the kernel is idle again (or its reply came), dies, or time is up.

        The reply on the shell channel also ends the wait, so output dropped by zmq's queue limits
        (a flood of prints) cannot make a finished cell look like an infinite loop.
        """
        assert self.kc is not None
        error, reply, seen = "", None, False
        while True:
            now = time.monotonic()
            if now > deadline:
                return Outcome("timeout", seconds=now - start)
            if not seen and now - start > LOST_AFTER:
                return Outcome(
                    "lost",
                    "the notebook's kernel never started running it (a fault of the Jupyter kernel, not of "
                    "the notebook); the kernel was restarted",
                    now - start,
                )
            try:
                if reply is None:
                    reply = self._reply(msg_id)
                    seen = seen or reply is not None
                msg = _check_message(
                    self.kc.get_iopub_msg(timeout=0.05 if reply is not None else min(0.2, max(deadline - now, 0.01)))
                )
            except queue.Empty:
                if reply is None and self._dropped():
                    time.sleep(0.5)  # a dying kernel drops its connections too: give its death time to show
                    if (
                        self.alive() and self.killed_because is None
                    ):  # dropped for size: the connection cannot be trusted
                        return Outcome(
                            "died",
                            f"it sent more than {MAX_MESSAGE_BYTES // 2**20} MB of output or error text at "
                            "once, which the grader does not accept; the kernel was restarted",
                            time.monotonic() - start,
                        )
                if reply is not None:
                    if not error and reply.get("status") == "error":
                        error = (
                            f"{str(reply.get('ename', 'Error'))[:200]}: {str(reply.get('evalue', ''))[:KEEP_OUTPUT]}"
                        )
                    return Outcome("error" if error else "ok", error, time.monotonic() - start)
                if not self.alive() or self.killed_because is not None:
                    return Outcome("died", self._death_reason(), time.monotonic() - start)
                continue
            except Exception as err:  # bad signature, bad JSON, wrong shape: nothing from it is used
                detail = str(err) if isinstance(err, _Untrusted) else f"{type(err).__name__}"
                return self._give_up(
                    f"the notebook's kernel sent a message the grader cannot trust ({detail[:100]}), "
                    "so the rest of this notebook was not graded"
                )
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen = True
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error":
                error = f"{content.get('ename', 'Error')[:200]}: {content.get('evalue', '')[:KEEP_OUTPUT]}"[
                    :KEEP_OUTPUT
                ]
            elif kind == "status" and content["execution_state"] == "idle":
                seconds = time.monotonic() - start
                return Outcome("error" if error else "ok", error, seconds)

    def _death_reason(self) -> str:
        if self.killed_because is not None:
            return self.killed_because
        code = None
        if self.km is not None and self.km.provisioner is not None:
            code = getattr(getattr(self.km.provisioner, "process", None), "returncode", None)
        return f"the kernel died (exit code {code}): sys.exit/os._exit, a crash, or too much memory"

    def _interrupt(self, msg_id: str) -> None:
        """Stop a timed-out call: SIGINT first; a kernel that does not become idle is restarted."""
        if self.km is None or self.broken is not None:
            return
        with contextlib.suppress(Exception):
            self.km.interrupt_kernel()
        if self._wait(msg_id, time.monotonic() + 5, time.monotonic()).status in ("ok", "error", "broken"):
            return
        self.restart()
