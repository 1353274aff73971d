"""What the instructor tools (release, autograder, rehearse, bench) say: one logger, one switch.

Each tool's ``main`` adds ``--verbose``/``--quiet`` with :func:`add_switch` and calls :func:`configure`;
then it reports through :data:`say`: ``info`` for what it did (shown by default), ``debug`` for each
step (``--verbose``), ``warning`` and ``error`` always (on stderr). ``make VERBOSE=1`` or ``make QUIET=1``
passes the switch on. The grader's own log (``a5kit.grader``) is separate: it goes to the instructor's log file.
"""

from __future__ import annotations

import argparse
import logging
import sys

say = logging.getLogger("a5kit.console")


class _Stdout(logging.StreamHandler):
    """Info and debug to stdout, warnings and errors to stderr, looked up at each message (so a caller's
    redirection, or pytest's capture, sees them)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = (
            sys.stderr if record.levelno >= logging.WARNING else sys.stdout
        )  # not setStream: the last one may be closed
        super().emit(record)


class _Plain(logging.Formatter):
    """The message alone; a warning says so."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return f"warning: {text}" if record.levelno == logging.WARNING else text


def add_switch(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` (every step) and ``-q/--quiet`` (warnings and errors only), one at a time."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="also report every step")
    group.add_argument("-q", "--quiet", action="store_true", help="report only warnings and errors")


def configure(args: argparse.Namespace) -> logging.Logger:
    """Set :data:`say`'s level from the switch (info by default) and give it its one handler; returns it."""
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    elif getattr(args, "quiet", False):
        level = logging.WARNING
    else:
        level = logging.INFO
    say.setLevel(level)
    say.propagate = False
    for handler in list(say.handlers):
        say.removeHandler(handler)
    handler = _Stdout(sys.stdout)
    handler.setFormatter(_Plain())
    say.addHandler(handler)
    return say
