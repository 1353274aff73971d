"""Resident memory of a process tree, read from /proc (Linux): the grader's watchdog and `make bench` use it."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are still alive."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def rss_mb(pid: int) -> float:
    """Resident set size of one process in MB (0 when it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mb(pid: int) -> float:
    return sum(rss_mb(p) for p in tree(pid))


class Watchdog:
    """Polls a process tree; kills it when its RSS passes ``limit_mb`` and remembers the peak.

    State is real here: a thread, the peak seen, and whether it had to kill.
    """

    def __init__(self, pid: int, limit_mb: float, interval: float = 0.05, on_kill: Callable[[float], None] | None = None) -> None:
        self.pid, self.limit_mb, self.interval, self.on_kill = pid, limit_mb, interval, on_kill
        self.peak_mb = 0.0
        self.killed_at_mb: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watchdog-{pid}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            used = tree_rss_mb(self.pid)
            self.peak_mb = max(self.peak_mb, used)
            if self.limit_mb and used > self.limit_mb:
                self.killed_at_mb = used
                for p in reversed(tree(self.pid)):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                if self.on_kill:
                    self.on_kill(used)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
