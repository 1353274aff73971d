"""The student's half of the Gradescope grader: runs inside the notebook's kernel.

The trusted grader writes a request (``requests/rN.npz``: call a student function or a kit probe,
with plain-data arguments) and asks the kernel to run ``serve(...)``, which answers in
``responses/rN.npz``. The grader runs a private copy of this module, loaded from this file in each
fresh kernel before any notebook code (``a5kit.grader.kernel_client.LOAD_SERVER``), so replacing
``serve``, ``_kit`` or ``_answer`` of the importable module changes nothing the grader runs.
Nothing here decides a score: whatever the student's code does to this module only changes the
data it sends back, which the grader checks like any other answer.

Kit probes (``kind == "kit"``) run from a private copy of :mod:`a5kit.kernel_server.probes`, executed
from its file when this module is imported, not from the module object the notebook can reach:
a notebook that replaces ``a5kit.kernel_server.probes.parameters`` (or its table, or ``run``) by name
changes nothing here. Checks that matter do not rely on this alone: they recompute what they can
from plain data (q5b: the loss, in numpy, from the head's weights).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from a5kit import protocol
from a5kit.checking.plain import StaleHandle, from_plain, to_plain
from a5kit.checking.submission import LocalSubmission, MissingFunction, StudentError
from a5kit.kernel_server import probes as _probes_module

_submission: LocalSubmission | None = None


def _private_probes() -> ModuleType:
    """A fresh copy of a5kit.kernel_server.probes, executed from its (root-owned) file, not in sys.modules."""
    origin = getattr(getattr(_probes_module, "__spec__", None), "origin", None) or _probes_module.__file__
    spec = importlib.util.spec_from_file_location(_probes_module.__name__, origin)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the kit's probes from {origin}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_PROBES = _private_probes()
_run_probe = _PROBES.run


def _kit(sub: LocalSubmission, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Run kit probe ``name`` from the private copy, on the submission's handles."""
    return to_plain(_run_probe(name, from_plain(args, sub.handles), from_plain(kwargs, sub.handles)), sub.handles)


def _local() -> LocalSubmission:
    global _submission
    if _submission is None:
        from IPython import get_ipython

        shell = get_ipython()
        namespace = shell.user_ns if shell is not None else vars(__import__("__main__"))
        _submission = LocalSubmission(namespace)
    return _submission


def _answer(request: protocol.Request) -> protocol.Answer:
    sub = _local()
    name, args, kwargs = request.name, request.args, request.kwargs
    try:
        if request.kind == "call":
            return protocol.Answer(protocol.Status.VALUE, sub.call(name, *args, **kwargs))
        return protocol.Answer(protocol.Status.VALUE, _kit(sub, name, args, kwargs))
    except MissingFunction as err:
        return protocol.Answer(protocol.Status.MISSING, message=str(err))
    except StudentError as err:
        return protocol.Answer(
            protocol.Status.STUDENT_ERROR,
            message=str(err.error),
            function=err.function,
            error_type=type(err.error).__name__,
        )
    except StaleHandle as err:
        return protocol.Answer(protocol.Status.STALE, message=str(err))
    except Exception as err:  # a probe failed on what the student built (e.g. a non-module)
        return protocol.Answer(protocol.Status.KIT_ERROR, message=f"{type(err).__name__}: {err}")


def serve(requests: str, responses: str, number: int | str) -> None:
    """Answer request ``number``: read it, run it, write the plain-data answer."""
    request = protocol.Request.from_plain(protocol.loads(Path(requests, f"r{number}.npz").read_bytes()))
    answer = _answer(request)
    target = Path(responses, f"r{number}.npz")
    try:
        protocol.write(target, answer.to_plain())
    except protocol.WireError as err:
        protocol.write(
            target,
            protocol.Answer(
                protocol.Status.REFUSED,
                message=f"returned something that cannot be graded ({err})",
                function=request.name,
                error_type="TypeError",
            ).to_plain(),
        )
