"""The grader's calls into the student's kernel: a case's ``call``/``kit`` as a request file, its answer read as plain data."""

from __future__ import annotations

import itertools
from typing import Any

from a5kit import protocol
from a5kit.checking.submission import KitError, MissingFunction, StudentError
from a5kit.grader.kernel_client import Outcome
from a5kit.grader.notebook_run import NotebookRun

KEEP_MESSAGE = 2000  # characters of an error message from the kernel kept for a test's output


class CallFailed(StudentError):
    """A call into the kernel that did not return an answer: timeout, dead kernel, bad answer."""

    def __init__(self, function: str, message: str) -> None:
        RuntimeError.__init__(self, message)
        self.function = function
        self.error = RuntimeError(message)


def _remote_error(kind: str, message: str) -> BaseException:
    """The student's exception, rebuilt by name for messages (builtins keep their class)."""
    import builtins

    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    try:
        return type(kind, (Exception,), {})(message)
    except (TypeError, ValueError):  # a name no class can have (NUL bytes, ...)
        return Exception(message)


class KernelSubmission:
    """The Submission interface across the process boundary: requests and answers as plain-data files."""

    def __init__(self, run: NotebookRun, question: str) -> None:
        self.run, self.question = run, question
        self.kernel = run.kernel
        self._numbers = itertools.count(1)
        self.timed_out = False

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        return self._request("call", function, args, kwargs)

    def kit(self, probe: str, *args: Any, **kwargs: Any) -> Any:
        return self._request("kit", probe, args, kwargs)

    def _request(self, kind: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        shown = f"{name}()"
        timeout = self.run.clock.call_timeout()
        if timeout <= 0:
            self.timed_out = True
            raise CallFailed(
                name, f"not run: question {self.question} used up its {self.run.clock.limits.question:.0f} s"
            )
        for _ in range(2):  # a request the kernel never read (lost) runs once more, in the redefined notebook
            outcome, tag = self._send(kind, name, args, kwargs, timeout)
            self.run.recover()
            timeout = self.run.clock.call_timeout()
            if outcome.status != "lost" or self.kernel.broken is not None or timeout <= 0:
                break
        if outcome.status in ("broken", "skipped"):
            raise CallFailed(name, f"{shown} was not run: {outcome.error}")
        if outcome.status == "timeout":
            self.timed_out = True
            raise CallFailed(
                name,
                f"{shown} did not finish within {outcome.seconds:.0f} s (infinite loop?); question {self.question} stops here",
            )
        if outcome.status == "lost":
            raise CallFailed(name, f"{shown} was not run: {outcome.error}; question {self.question} stops here")
        if outcome.status == "died":
            raise CallFailed(
                name, f"{shown} killed the notebook's kernel ({outcome.error}); it was restarted to grade the rest"
            )
        if outcome.status == "error":
            raise CallFailed(name, f"the kernel could not run {shown}: {outcome.error.splitlines()[0][:300]}")
        try:
            answer = protocol.Answer.from_plain(
                protocol.read_untrusted(self.kernel.responses, f"r{tag}.npz"), KEEP_MESSAGE
            )
        except protocol.WireError as err:
            raise CallFailed(name, f"{shown}: {err}") from None
        return value_of(answer, name)

    def _send(
        self, kind: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], timeout: float
    ) -> tuple[Outcome, str]:
        """Write the request and have the kernel answer it; returns how that ended and the request's tag."""
        number = next(self._numbers) + 1000 * self.kernel.restarts
        tag = f"{self.question}-{number}"
        protocol.write(self.kernel.requests / f"r{tag}.npz", protocol.Request(kind, name, args, kwargs).to_plain())  # type: ignore[arg-type]
        return self.kernel.execute(self.kernel.serve_code(tag), timeout), tag


def value_of(answer: protocol.Answer, name: str) -> Any:
    """The value of an answer, or the exception a test expects for each other :class:`~a5kit.protocol.Status`."""
    status = answer.status
    if status is protocol.Status.VALUE:
        return answer.value
    if status is protocol.Status.MISSING:
        raise MissingFunction(answer.message)
    if status in (protocol.Status.STUDENT_ERROR, protocol.Status.REFUSED):
        raise StudentError(answer.function or name, _remote_error(answer.error_type or "Exception", answer.message))
    if status is protocol.Status.STALE:
        raise CallFailed(name, f"{name}(): {answer.message}")
    raise KitError(f"kit probe {name} failed in the kernel: {answer.message}")
