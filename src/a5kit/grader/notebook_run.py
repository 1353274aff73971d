"""A notebook's code cells run one at a time in its kernel, each with a deadline, and re-run after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from a5kit.grader.budget import Clock
from a5kit.grader.kernel_client import Outcome, StudentKernel
from a5kit.grader.results import clean_text


class NotebookRun:
    """A notebook's code cells in one kernel, re-run after a restart. State: the kernel and cell outcomes."""

    def __init__(self, kernel: StudentKernel, cells: list[str], clock: Clock) -> None:
        self.kernel, self.cells, self.clock = kernel, cells, clock
        self.outcomes: list[Outcome | None] = [None] * len(cells)
        self.restarts_seen = kernel.restarts

    def run_all(self) -> None:
        """Run every cell once, within the notebook's share of time for cells."""
        for index, code in enumerate(self.cells):
            timeout = self.clock.cell_timeout()
            if self.kernel.broken is not None:
                self.outcomes[index] = Outcome("skipped", self.kernel.broken)
                continue
            if timeout <= 0:
                self.outcomes[index] = Outcome("skipped", "this notebook's share of the grading time ran out")
                continue
            for _ in range(2):  # a cell the kernel never read (lost) runs once more, in the fresh kernel
                outcome = self.outcomes[index] = self.kernel.execute(code, timeout)
                if self.kernel.restarts != self.restarts_seen:  # died, lost, or would not stop when interrupted
                    self._redefine(upto=index)
                if outcome.status != "lost" or self.kernel.broken is not None:
                    break
                timeout = self.clock.cell_timeout()

    def _redefine(self, upto: int) -> None:
        """After a restart, run again the cells that finished before (not those that hung or crashed).

        The re-runs count against the notebook's time; a kernel that dies again starts the loop over
        (bounded by the kernel's restart limit).
        """
        while self.kernel.restarts != self.restarts_seen and self.kernel.broken is None:
            self.restarts_seen = self.kernel.restarts
            for index, code in enumerate(self.cells[:upto]):
                previous = self.outcomes[index]
                if previous is None or previous.status not in ("ok", "error"):
                    continue
                timeout = self.clock.cell_timeout(rerun=True)
                if timeout <= 0:
                    break
                if self.kernel.execute(code, timeout).status in ("died", "broken"):
                    self.outcomes[index] = Outcome("died", "the kernel died again when this cell was re-run")
                    upto = index
                    break

    def recover(self) -> None:
        """If the kernel was restarted during grading, define the notebook's functions again."""
        if self.kernel.restarts != self.restarts_seen:
            self._redefine(upto=len(self.cells))

    def problems(self) -> list[str]:
        lines = []
        for index, outcome in enumerate(self.outcomes):
            if outcome is None or outcome.ok:
                continue
            first = self.cells[index].strip().splitlines()[0][:60] if self.cells[index].strip() else ""
            where = f"code cell {index + 1} ({first!r})"
            if outcome.status == "timeout":
                lines.append(f"{where} was stopped after {outcome.seconds:.0f} s (infinite loop?)")
            elif outcome.status in ("died", "broken", "lost"):
                lines.append(f"{where}: {outcome.error}")
            elif outcome.status == "skipped":
                lines.append(f"{where} was not run: {outcome.error}")
            elif "NotImplementedError" not in outcome.error:
                lines.append(
                    f"{where} raised {outcome.error.splitlines()[0][:200] if outcome.error.strip() else 'an error'}"
                )
        return lines


def _as_text(source: Any) -> str:
    """Cell source as text that can be sent to the kernel: lone surrogates (\\ud800) become U+FFFD."""
    text = "".join(source) if isinstance(source, list) else str(source)
    return clean_text(text, len(text))


def code_cells(path: Path) -> list[str]:
    """The non-empty code cells of a notebook that :func:`check_notebook` accepted."""
    nb = nbformat.read(path, as_version=4)
    cells = [_as_text(c.source) for c in nb.cells if c.cell_type == "code"]
    return [c for c in cells if c.strip()]
