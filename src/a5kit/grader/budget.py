"""The grading time budgets of one submission: the whole, each notebook's share, each cell and question."""

from __future__ import annotations

import time

from a5kit.grader.settings import Limits

CLEANUP_SECONDS = (
    20.0  # removing a notebook's files may run this far past its share; the rest goes at the next clean-up
)


class Clock:
    """The time budgets: the whole submission, each notebook's share, each question."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.start = time.monotonic()
        self.notebook_start = self.start
        self.notebook_deadline = self.start + limits.total
        self.question_deadline = float("inf")

    def remaining(self) -> float:
        return self.limits.total - (time.monotonic() - self.start)

    def begin_notebook(self, notebooks_left: int) -> float:
        """Give the next notebook an equal share of the time left; returns its deadline (monotonic)."""
        self.notebook_start = time.monotonic()
        self.notebook_deadline = self.notebook_start + max(self.remaining(), 0.0) / max(notebooks_left, 1)
        return self.notebook_deadline

    def notebook_remaining(self) -> float:
        return min(self.notebook_deadline - time.monotonic(), self.remaining())

    def share_seconds(self) -> float:
        return self.notebook_deadline - self.notebook_start

    def cell_timeout(self, rerun: bool = False) -> float:
        """Seconds the next cell may take: its limit, within the notebook's share for cells."""
        cells_end = self.notebook_start + self.limits.cells_share * (self.notebook_deadline - self.notebook_start)
        end = self.notebook_deadline if rerun else cells_end
        return min(self.limits.cell, end - time.monotonic(), self.remaining())

    def cleanup_deadline(self) -> float:
        """Until when the clean-up after a notebook may run: what is left of its own share, at least ``CLEANUP_SECONDS``.

        So the files a notebook made are removed on its own time first, and never for long on the others'.
        """
        return max(self.notebook_deadline, time.monotonic() + CLEANUP_SECONDS)

    def begin_question(self) -> None:
        self.question_deadline = time.monotonic() + self.limits.question

    def call_timeout(self) -> float:
        return min(self.question_deadline - time.monotonic(), self.notebook_remaining())
