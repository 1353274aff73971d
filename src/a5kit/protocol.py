"""Plain data across the process boundary between the grader and the student's kernel.

The conversation is typed: the grader sends a :class:`Request` (call a student function, or run a
kit probe, by name with plain-data arguments); the kernel server answers with an :class:`Answer`
whose :class:`Status` is one of a closed set (a value, a missing function, the student's error, a
stale handle, a kit probe's error, or a return value that cannot cross the boundary).

One message is one ``.npz`` file: the structure as JSON (stored as a uint8 array) and every numpy
array as its own member. It is read with ``allow_pickle=False``, so a message can carry numbers,
strings, lists, dicts, tuples, numeric or string arrays and :class:`~a5kit.checking.plain.Handle`s,
and nothing that runs code when loaded. The trusted side opens files written by the student's
user without following symlinks and within size limits (:func:`read_untrusted`).
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import numpy as np

from a5kit.checking.plain import Handle

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # an answer larger than this (file, or arrays uncompressed) is refused
MAX_STRUCTURE_BYTES = 2 * 1024 * 1024  # the JSON part (lists, dicts, text) of an answer: parsed, so kept small
_TAG = "__a5__"


class WireError(ValueError):
    """A message that is not valid plain data (too large, malformed, or not a regular file)."""


class Status(str, Enum):
    """What became of a request in the student's kernel (the closed set of outcomes)."""

    VALUE = "value"  # the function or probe returned plain data
    MISSING = "missing"  # the notebook defines no such function
    STUDENT_ERROR = "student"  # the student's function raised
    STALE = "stale"  # a handle from before a kernel restart
    KIT_ERROR = "kit"  # a kit probe failed on what the student built (e.g. not a torch module)
    REFUSED = "refused"  # the student's function returned something that is not plain data


@dataclass(frozen=True)
class Request:
    """Call the student's function ``name`` (``kind="call"``) or run kit probe ``name`` (``kind="kit"``)."""

    kind: Literal["call", "kit"]
    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def to_plain(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "args": list(self.args), "kwargs": dict(self.kwargs)}

    @classmethod
    def from_plain(cls, data: Any) -> Request:
        if (
            not isinstance(data, dict)
            or data.get("kind") not in ("call", "kit")
            or not isinstance(data.get("name"), str)
        ):
            raise WireError("malformed request")
        args, kwargs = data.get("args", []), data.get("kwargs", {})
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, dict):
            raise WireError("malformed request")
        return cls(data["kind"], data["name"], tuple(args), dict(kwargs))


@dataclass(frozen=True)
class Answer:
    """The kernel's answer to a :class:`Request`: a status, and the value or what went wrong.

    ``function`` and ``error_type`` are set for :attr:`Status.STUDENT_ERROR` (and ``REFUSED``): which
    function raised, and the name of its exception's class.
    """

    status: Status
    value: Any = None
    message: str = ""
    function: str = ""
    error_type: str = ""

    def to_plain(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status.value}
        if self.status is Status.VALUE:
            data["value"] = self.value
        else:
            data.update(message=self.message, function=self.function, type=self.error_type)
        return data

    @classmethod
    def from_plain(cls, data: Any, keep: int = 2000) -> Answer:
        """The answer in ``data`` (as read from the untrusted side); texts cut to ``keep`` characters."""
        if not isinstance(data, dict):
            raise WireError("the answer was not understood")
        try:
            status = Status(data.get("status"))
        except (ValueError, TypeError):
            raise WireError("the answer was not understood") from None
        if status is Status.VALUE:
            return cls(status, data.get("value"))
        return cls(
            status,
            None,
            str(data.get("message", ""))[:keep],
            str(data.get("function", ""))[:100],
            str(data.get("type", "Exception"))[:100],
        )


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {_TAG: "float", "repr": repr(obj)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            raise WireError("object arrays cannot cross the process boundary")
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {_TAG: "ndarray", "name": name}
    if isinstance(obj, Handle):
        return {_TAG: "handle", "id": obj.id, "type": obj.type}
    if isinstance(obj, tuple):
        return {_TAG: "tuple", "items": [_encode(x, arrays) for x in obj]}
    if isinstance(obj, list):
        return [_encode(x, arrays) for x in obj]
    if isinstance(obj, dict):
        return {_TAG: "dict", "items": [[str(k), _encode(v, arrays)] for k, v in obj.items()]}
    raise WireError(f"{type(obj).__name__} is not plain data")


def _decode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(x, arrays) for x in obj]
    if not isinstance(obj, dict):
        return obj
    tag = obj.get(_TAG)
    if tag == "ndarray":
        return arrays[obj["name"]]
    if tag == "float":
        return float(obj["repr"])
    if tag == "handle":
        return Handle(int(obj["id"]), str(obj["type"]))
    if tag == "tuple":
        return tuple(_decode(x, arrays) for x in obj["items"])
    if tag == "dict":
        return {str(k): _decode(v, arrays) for k, v in obj["items"]}
    raise WireError(f"unknown element in message: {str(obj)[:80]}")


def dumps(obj: Any) -> bytes:
    """``obj`` (plain data) as the bytes of one message."""
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, arrays)).encode()
    buffer = io.BytesIO()
    np.savez(buffer, __json__=np.frombuffer(structure, dtype=np.uint8), **arrays)  # type: ignore[arg-type]  # as in cache.py
    return buffer.getvalue()


def loads(data: bytes | io.BufferedIOBase, limit: int = MAX_MESSAGE_BYTES) -> Any:
    """The plain data of one message; refuses pickles, non-zip data and more than ``limit`` bytes."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with zipfile.ZipFile(stream) as archive:
            infos = archive.infolist()
            if sum(i.file_size for i in infos) > limit:
                raise WireError(f"message larger than {limit // 2**20} MB")
            if any(i.filename == "__json__.npy" and i.file_size > MAX_STRUCTURE_BYTES + 1024 for i in infos):
                raise WireError(
                    f"the answer's lists, dicts and text (an error message included) take more than "
                    f"{MAX_STRUCTURE_BYTES // 2**20} MB; return numbers as a numpy array"
                )
            arrays = {}
            for info in infos:
                name = info.filename.removesuffix(".npy")
                with archive.open(info) as member:
                    arrays[name] = np.lib.format.read_array(member, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, WireError):
            raise
        raise WireError(f"malformed message: {err}") from None
    if "__json__" not in arrays:
        raise WireError("malformed message: no structure")
    try:
        structure = json.loads(arrays.pop("__json__").tobytes())
        return _decode(structure, arrays)
    except RecursionError:
        raise WireError("the answer is nested too deeply to be read") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise WireError(f"malformed message: {str(err)[:200]}") from None


def write(path: str | os.PathLike[str], obj: Any) -> None:
    """Write one message; the file is created, never overwritten through a symlink."""
    data = dumps(obj)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def read_untrusted(folder: Path, name: str, limit: int = MAX_MESSAGE_BYTES) -> Any:
    """Read message ``name`` from a folder the student's user can write, without ever blocking.

    The file is opened non-blocking and without following symlinks, then checked on the open
    descriptor: a regular file with one link and at most ``limit`` bytes (a FIFO, device, socket,
    symlink or hard link is refused before a byte is read), and at most ``limit`` bytes are read.
    """
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        raise WireError(f"the answer folder cannot be opened safely: {err.strerror}") from None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0), dir_fd=dir_fd)
    except FileNotFoundError:
        raise WireError("no answer was written") from None
    except OSError as err:
        raise WireError(f"the answer file cannot be opened safely: {err.strerror}") from None
    finally:
        os.close(dir_fd)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a folder with its own error
        os.close(fd)
        raise WireError("the answer is not a regular file (a pipe, device, socket or folder was left in its place)")
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if info.st_nlink != 1:
            raise WireError("the answer file is a hard link to another file")
        if info.st_size > limit:
            raise WireError(f"answer larger than {limit // 2**20} MB")
        data = fh.read(limit + 1)
        if len(data) > limit:
            raise WireError(f"answer larger than {limit // 2**20} MB")
        return loads(data, limit)
