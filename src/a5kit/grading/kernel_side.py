"""The student's half of the Gradescope grader: runs inside the notebook's kernel.

The trusted grader writes a request (``requests/rN.npz``: call a student function or a kit probe,
with plain-data arguments) and asks the kernel to run ``serve(...)``, which answers in
``responses/rN.npz``. Nothing here decides a score: whatever the student's code does to this
module only changes the data it sends back, which the grader checks like any other answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import wire
from .plain import StaleHandle
from .submission import LocalSubmission, MissingFunction, StudentError

_submission: LocalSubmission | None = None


def _local() -> LocalSubmission:
    global _submission
    if _submission is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else vars(__import__("__main__"))
        _submission = LocalSubmission(namespace)
    return _submission


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    sub = _local()
    kind, name = request["kind"], request["name"]
    args, kwargs = tuple(request["args"]), dict(request["kwargs"])
    try:
        if kind == "call":
            return {"value": sub.call(name, *args, **kwargs)}
        return {"value": sub.kit(name, *args, **kwargs)}
    except MissingFunction as err:
        return {"error": "missing", "message": str(err)}
    except StudentError as err:
        return {"error": "student", "function": err.function, "type": type(err.error).__name__, "message": str(err.error)}
    except StaleHandle as err:
        return {"error": "stale", "message": str(err)}
    except Exception as err:  # a probe failed on what the student built (e.g. a non-module)
        return {"error": "kit", "message": f"{type(err).__name__}: {err}"}


def serve(requests: str, responses: str, number: int) -> None:
    """Answer request ``number``: read it, run it, write the plain-data answer."""
    request = wire.loads(Path(requests, f"r{number}.npz").read_bytes())
    answer = _answer(request)
    target = Path(responses, f"r{number}.npz")
    try:
        wire.write(target, answer)
    except wire.WireError as err:
        wire.write(target, {"error": "student", "function": request["name"], "type": "TypeError",
                            "message": f"returned something that cannot be graded ({err})"})
