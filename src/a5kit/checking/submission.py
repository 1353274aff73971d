"""The one interface tests use to reach a student's work: ``submission.call(name, *args)``.

:class:`LocalSubmission` calls functions in a namespace (the student's kernel, for ``check()``
and nbgrader autograde). The Gradescope grader implements the same ``call`` across a process
boundary. Either way the test receives plain data (see :mod:`a5kit.checking.plain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from a5kit.checking.plain import from_plain, to_plain


class MissingFunction(LookupError):
    """The notebook defines no function of the name a question asks for."""


class StudentError(RuntimeError):
    """The student's function raised; the message says which function and what it raised."""

    def __init__(self, function: str, error: BaseException) -> None:
        self.function = function
        self.error = error
        if isinstance(error, NotImplementedError):
            text = f"{function}() is not implemented yet (it raises NotImplementedError)"
        else:
            text = f"{function}() raised {type(error).__name__}: {error}"
        super().__init__(text)


class KitError(RuntimeError):
    """A kit probe failed on what the student built (e.g. a model that is not a torch module)."""


class Submission(Protocol):
    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's ``function`` with plain-data arguments; return plain data."""
        ...

    def kit(self, probe: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``a5kit.kernel_server.probes.<probe>`` where the student's code runs; return plain data."""
        ...


class LocalSubmission:
    """A submission whose functions live in a namespace of this process."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.handles: dict[int, Any] = {}

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        func = self.namespace.get(function)
        if func is None:
            raise MissingFunction(
                f"no function named {function}() in the notebook: define it (check the spelling) and run its cell"
            )
        if not callable(func):
            raise MissingFunction(f"{function} is a {type(func).__name__}, not a function")
        args = from_plain(args, self.handles)
        kwargs = from_plain(kwargs, self.handles)
        try:
            result = func(*args, **kwargs)
        except Exception as err:  # the student's exception, reported, never raised through the test
            raise StudentError(function, err) from err
        return to_plain(result, self.handles)

    def kit(self, probe: str, *args: Any, **kwargs: Any) -> Any:
        from a5kit.kernel_server import probes

        try:
            result = probes.run(probe, from_plain(args, self.handles), from_plain(kwargs, self.handles))
        except Exception as err:  # what the student built does not fit the probe
            raise KitError(f"kit probe {probe} failed: {type(err).__name__}: {err}") from err
        return to_plain(result, self.handles)
