"""Assertions that explain themselves to a student: shapes, dtypes, closeness, Axes contents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from a5kit.checking.core import Failure
from a5kit.checking.plain import Handle
from a5kit.checking.submission import StudentError


def array(value: Any, what: str, shape: Sequence[int | None] | None = None) -> np.ndarray:
    """``value`` as a numeric array, with the expected ``shape`` (None = any size on that axis)."""
    if isinstance(value, Handle) or value is None or isinstance(value, (dict, str)):
        raise Failure(
            f"{what}: expected an array, got {value.type if isinstance(value, Handle) else type(value).__name__}"
        )
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Failure(f"{what}: expected a numeric array, got {type(value).__name__}") from None
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            hint = ""
            if (
                arr.ndim == len(shape)
                and arr.ndim == 2
                and all(s is None or s == a for s, a in zip(shape, arr.shape[::-1]))
            ):
                hint = ": transposed?"
            raise Failure(f"{what}: expected shape {want}, got {tuple(arr.shape)}{hint}")
    return arr


def close(actual: Any, expected: np.ndarray, what: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """Fail with the largest difference and where it is when ``actual`` is not close to ``expected``."""
    actual = array(actual, what, expected.shape)
    if not np.all(np.isfinite(actual)):
        raise Failure(f"{what}: contains NaN or inf (overflow in exp? subtract the row maximum first)")
    diff = np.abs(actual - expected)
    bad = diff > atol + rtol * np.abs(expected)
    if bad.any():
        where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        raise Failure(
            f"{what}: {int(bad.sum())} of {bad.size} values differ; largest at {where}: got "
            f"{actual[where]:.6g}, expected {expected[where]:.6g}"
        )


def axes(value: Any, what: str) -> dict[str, Any]:
    """The summary of a matplotlib Axes returned by the student's plotting function."""
    if isinstance(value, dict) and value.get("__figure__") and value["axes"]:
        return value["axes"][0]
    if not (isinstance(value, dict) and value.get("__axes__")):
        kind = value.type if isinstance(value, Handle) else type(value).__name__
        raise Failure(f"{what}: expected the function to return the matplotlib Axes it drew on, got {kind}")
    return value


def raised(
    sub: Any, function: str, args: Sequence[Any], error: type[Exception], call: str, expected: str, returned: str
) -> str:
    """The message of the ``error`` that the student's ``function(*args)`` must raise.

    Another exception type fails with ``"{call} raised X; expected {expected}"``, a normal return with
    ``"{call} returned; expected {returned}"``; NotImplementedError (an unfinished stub) passes through.
    """
    try:
        sub.call(function, *args)
    except StudentError as err:
        if isinstance(err.error, NotImplementedError):
            raise
        if not isinstance(err.error, error):
            raise Failure(f"{call} raised {type(err.error).__name__}; expected {expected}") from None
        return str(err.error)
    raise Failure(f"{call} returned; expected {returned}")
