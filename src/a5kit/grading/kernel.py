"""The grader's handle on one student kernel: start it as the student's user, run code with a
deadline, interrupt or restart it, watch its memory.

It uses jupyter_client directly (not nbclient) because the grader needs per-call deadlines, a
memory watchdog, output it can drop (100 MB of prints must not reach results.json or memory), and
a restart that keeps grading; nbclient stops a notebook at the first dead kernel.
"""

from __future__ import annotations

import json
import os
import pwd
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from .memory import Watchdog

KERNEL_NAME = "a5kit-student"
KEEP_OUTPUT = 4000  # characters of a cell's error output kept for messages


@dataclass
class Outcome:
    """How one piece of code ended: ok, error (it raised), timeout or died (the kernel is gone)."""

    status: str
    error: str = ""  # "NameError: name 'x' is not defined" for status error
    seconds: float = 0.0
    output_chars: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class KernelSettings:
    user: str = ""  # run as this user when the grader is root ("" = as ourselves)
    memory_mb: int = 1500  # the watchdog kills the kernel's process tree above this resident size
    address_space_mb: int = 4096  # RLIMIT_AS backstop: one huge allocation fails with MemoryError
    env: dict[str, str] = field(default_factory=dict)  # A5KIT_MODE=replay, A5KIT_CACHE, ... for the kernel


class KernelDied(RuntimeError):
    """The kernel exited (os._exit, a crash, the memory limit); the grader restarts it."""


class StudentKernel:
    """One ipykernel for one notebook. State is real: the process, its client and its folders."""

    def __init__(self, settings: KernelSettings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.as_user = bool(settings.user) and os.geteuid() == 0
        self.exchange = Path(tempfile.mkdtemp(prefix="a5kit-exchange-"))
        self.requests = self.exchange / "requests"  # written by the grader, read by the kernel
        self.responses = self.exchange / "responses"  # written by the kernel, read by the grader
        self.home = self.exchange / "home"
        for folder in (self.requests, self.responses, self.home):
            folder.mkdir()
        self.exchange.chmod(0o755)
        self.requests.chmod(0o755)
        if self.as_user:
            record = pwd.getpwnam(settings.user)
            for folder in (self.responses, self.home, workdir):
                os.chown(folder, record.pw_uid, record.pw_gid)
        self.spec_dir = Path(tempfile.mkdtemp(prefix="a5kit-kernelspec-"))
        self.km: KernelManager | None = None
        self.kc = None
        self.watchdog: Watchdog | None = None
        self.peak_mb = 0.0
        self.restarts = 0
        self.killed_for_memory: float | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def _write_spec(self, connection: Path) -> None:
        argv = [sys.executable, "-m", "a5kit.grading.launcher", "--connection", str(connection),
                "--workdir", str(self.home), "--memory-mb", str(self.settings.address_space_mb)]
        if self.as_user:
            argv += ["--user", self.settings.user]
        argv += ["--", "--HistoryManager.enabled=False"]
        folder = self.spec_dir / KERNEL_NAME
        folder.mkdir(exist_ok=True)
        (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "student", "language": "python"}))

    def _env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg",
                   PYTHONDONTWRITEBYTECODE="1", HOME=str(self.home), MPLCONFIGDIR=str(self.home / ".mpl"),
                   IPYTHONDIR=str(self.home / ".ipython"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   A5KIT_AUTOGRADER="1", TQDM_DISABLE="1")
        env.update(self.settings.env)
        return env

    def start(self) -> None:
        connection = self.exchange / "connection.json"
        ksm = KernelSpecManager(kernel_dirs=[str(self.spec_dir)])
        self.km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm, connection_file=str(connection))
        self._write_spec(connection)
        self.km.start_kernel(env=self._env(), cwd=str(self.home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._connect()

    def _connect(self) -> None:
        assert self.km is not None
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except RuntimeError as err:
            raise KernelDied(f"the notebook's kernel did not start: {err}") from None
        pid = self.km.provisioner.process.pid  # type: ignore[union-attr]
        self.watchdog = Watchdog(pid, self.settings.memory_mb, on_kill=self._note_kill)

    def _note_kill(self, used_mb: float) -> None:
        self.killed_for_memory = used_mb

    def _stop_watchdog(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.peak_mb = max(self.peak_mb, self.watchdog.peak_mb)
            self.watchdog = None

    def restart(self) -> None:
        """A fresh kernel in place of a dead or stuck one (the notebook's definitions must be re-run)."""
        assert self.km is not None
        self._stop_watchdog()
        if self.kc is not None:
            self.kc.stop_channels()
        self.restarts += 1
        self.km.restart_kernel(now=True, env=self._env())
        self._connect()

    def shutdown(self) -> None:
        self._stop_watchdog()
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        shutil.rmtree(self.spec_dir, ignore_errors=True)
        shutil.rmtree(self.exchange, ignore_errors=True)

    def alive(self) -> bool:
        return self.km is not None and self.km.is_alive()

    # -- running code ---------------------------------------------------------------------
    def execute(self, code: str, timeout: float) -> Outcome:
        """Run ``code``; after ``timeout`` seconds interrupt it (and restart if it will not stop)."""
        assert self.kc is not None
        start = time.monotonic()
        self.killed_for_memory = None
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        outcome = self._wait(msg_id, start + max(timeout, 0.1), start)
        if outcome.status == "timeout":
            self._interrupt(msg_id)
        elif outcome.status == "died":
            self.restart()
        return outcome

    def _wait(self, msg_id: str, deadline: float, start: float) -> Outcome:
        assert self.kc is not None
        chars, error = 0, ""
        while True:
            now = time.monotonic()
            if now > deadline:
                return Outcome("timeout", seconds=now - start, output_chars=chars)
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.2, max(deadline - now, 0.01)))
            except queue.Empty:
                if not self.alive():
                    return Outcome("died", self._death_reason(), time.monotonic() - start, chars)
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                chars += len(content.get("text", ""))
            elif kind == "error":
                error = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"[:KEEP_OUTPUT]
            elif kind == "status" and content.get("execution_state") == "idle":
                seconds = time.monotonic() - start
                return Outcome("error" if error else "ok", error, seconds, chars)

    def _death_reason(self) -> str:
        if self.killed_for_memory is not None:
            return f"the kernel used more than {self.settings.memory_mb} MB of memory and was stopped"
        code = self.km.provisioner.process.returncode if self.km and self.km.provisioner else None  # type: ignore[union-attr]
        return f"the kernel died (exit code {code}): sys.exit/os._exit, a crash, or too much memory"

    def _interrupt(self, msg_id: str) -> None:
        """Stop a timed-out call: SIGINT first; a kernel that does not become idle is restarted."""
        assert self.km is not None
        try:
            self.km.interrupt_kernel()
        except Exception:
            pass
        if self._wait(msg_id, time.monotonic() + 5, time.monotonic()).status in ("ok", "error"):
            return
        self.restart()
