"""Record/replay store for expensive results: a folder of ``.npz`` files plus ``manifest.json``.

Every entry is keyed by the function, the sha256 of its exact input and its parameters, so a
replay of a slightly different input (an interval off by one) is a miss, never a wrong answer.
The manifest records, per entry, the producing model id and version, a readable description of
the input, the input sha256, and the sha256, dtype and shape of every stored array. Only numpy
is needed here: the autograder replays without torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import config
from ._files import write_text_atomic

FORMAT = 1
TINY_NOTE = (
    "TINY DEMO CACHE: made by small randomly initialised models on synthetic sequence; the numbers are not biology"
)


MISS_SHOWN = 3  # inputs of the same function a cache miss names, so that its message stays one short line


class CacheMiss(LookupError):
    """Replay asked for a result the cache does not hold."""


class CacheCorrupt(RuntimeError):
    """A stored array does not match the hash its manifest recorded."""


class TinyResultWarning(UserWarning):
    """Results come from tiny random models (tiny mode or a tiny cache), not the real ones."""


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result: shown in the manifest next to every entry."""

    model_id: str
    version: str
    tiny: bool


def sha256_bytes(data: bytes | str) -> str:
    """sha256 hex digest of bytes, or of a string's UTF-8 encoding."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and C-ordered bytes."""
    array = np.ascontiguousarray(array)
    h = hashlib.sha256()
    h.update(array.dtype.str.encode())
    h.update(repr(tuple(array.shape)).encode())
    h.update(array.tobytes())
    return h.hexdigest()


def entry_key(function: str, input_sha256: str, params: Mapping[str, Any] | None = None) -> str:
    """The cache key of one call: function name, exact input and parameters."""
    blob = json.dumps({"function": function, "input": input_sha256, "params": dict(params or {})}, sort_keys=True)
    return sha256_bytes(blob)[:32]


_warned: set[str] = set()


def warn_tiny(source: str) -> None:
    """Say once per process that results come from tiny models, so nobody mistakes them for biology."""
    if source in _warned:
        return
    _warned.add(source)
    warnings.warn(f"{source}: {TINY_NOTE}", TinyResultWarning, stacklevel=3)


class Cache:
    """One cache folder. State is real here: the folder and its manifest."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else config.cache_dir()
        self.manifest_path = self.path / "manifest.json"
        self._manifest: dict[str, Any] | None = None

    # -- manifest -----------------------------------------------------------------------
    @property
    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            if self.manifest_path.exists():
                self._manifest = json.loads(self.manifest_path.read_text())
                if self._manifest.get("format") != FORMAT:
                    raise CacheCorrupt(f"{self.manifest_path}: unknown cache format {self._manifest.get('format')!r}")
            else:
                self._manifest = {"format": FORMAT, "tiny": False, "entries": {}}
        return self._manifest

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.manifest["entries"]

    @property
    def is_tiny(self) -> bool:
        return any(e.get("tiny") for e in self.entries.values())

    def describe(self) -> str:
        """One line saying where the cache is, what it holds and whether it is a tiny demo cache."""
        kind = f" -- {TINY_NOTE}" if self.is_tiny else " (real pretrained models)"
        return f"cache {self.path}: {len(self.entries)} entries{kind if self.entries else ''}"

    def _write_manifest(self) -> None:
        self.manifest["tiny"] = self.is_tiny
        if self.is_tiny:
            self.manifest["note"] = TINY_NOTE
        else:
            self.manifest.pop("note", None)
        write_text_atomic(self.manifest_path, json.dumps(self.manifest, indent=1, sort_keys=True) + "\n")

    # -- entries ------------------------------------------------------------------------
    def find(self, function: str, input_sha256: str, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        return self.entries.get(entry_key(function, input_sha256, params))

    def entries_for(self, function: str) -> list[dict[str, Any]]:
        return [e for e in self.entries.values() if e["function"] == function]

    def load(self, entry: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The arrays of one entry, each checked against the hash the manifest recorded."""
        with np.load(self.path / entry["file"], allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        for name, meta in entry["arrays"].items():
            if name not in arrays or array_sha256(arrays[name]) != meta["sha256"]:
                raise CacheCorrupt(f"{self.path / entry['file']}: array {name!r} does not match its manifest hash")
        return arrays

    def store(
        self,
        function: str,
        input_description: str,
        input_sha256: str,
        params: Mapping[str, Any] | None,
        arrays: Mapping[str, np.ndarray],
        model: ModelInfo,
    ) -> dict[str, Any]:
        """Write the arrays of one call and record them in the manifest."""
        key = entry_key(function, input_sha256, params)
        self.path.mkdir(parents=True, exist_ok=True)
        file = f"{function}-{key[:16]}.npz"
        # np.ascontiguousarray turns a 0-d array (a label) into shape (1,); keep scalars scalar
        arrays = {name: np.ascontiguousarray(a) if np.ndim(a) else np.asarray(a) for name, a in arrays.items()}
        np.savez_compressed(self.path / file, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle
        entry = {
            "function": function,
            "input": input_description,
            "input_sha256": input_sha256,
            "params": dict(params or {}),
            "model_id": model.model_id,
            "model_version": model.version,
            "tiny": model.tiny,
            "file": file,
            "arrays": {
                name: {"sha256": array_sha256(a), "dtype": a.dtype.str, "shape": list(a.shape)}
                for name, a in arrays.items()
            },
        }
        self.entries[key] = entry
        self._write_manifest()
        return entry

    def miss_message(
        self, function: str, input_description: str, input_sha256: str, params: Mapping[str, Any] | None
    ) -> str:
        """One line: what was asked, and a few of the inputs of the same function the cache does hold (never a dump)."""
        same = sorted(
            f"{e['input']}{_fmt_params(e['params'])}" for e in self.entries.values() if e["function"] == function
        )
        shown = "; ".join(same[:MISS_SHOWN]) + (
            f"; and {len(same) - MISS_SHOWN} more" if len(same) > MISS_SHOWN else ""
        )
        listing = f"{function} of {shown}" if same else f"nothing for {function}"
        return (
            f"not in cache: {function}({input_description}{_fmt_params(params)}) "
            f"[input sha256 {input_sha256[:12]}]. The cache holds: {listing}. "
            "Check the input (an interval off by one is a different input) or record it with `make cache`."
        )


def _fmt_params(params: Mapping[str, Any] | None) -> str:
    return "".join(f", {k}={v}" for k, v in sorted((params or {}).items()))


# -- live memo --------------------------------------------------------------------------------


def _source_fingerprint(source: str) -> str:
    """A hub id as is; a local folder by the names, sizes and modification times of its files."""
    path = Path(source)
    if not path.is_dir():
        return source
    files = sorted(
        (str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns) for f in path.rglob("*") if f.is_file()
    )
    return f"{path.resolve()} {sha256_bytes(json.dumps(files))[:16]}"


def memo_namespace() -> str:
    """The memo folder's sub-folder for the current models: other weights never see these results."""
    versions = []
    for package in ("transformers", "enformer-pytorch"):
        try:
            from importlib import metadata

            versions.append(f"{package} {metadata.version(package)}")
        except Exception:  # not installed: the memo still works for what does not need it
            versions.append(f"{package} -")
    blob = json.dumps(
        {"sources": {k: _source_fingerprint(v) for k, v in config.model_sources().items()}, "versions": versions},
        sort_keys=True,
    )
    return sha256_bytes(blob)[:16]


def live_memo() -> Cache | None:
    """The on-disk memo of live (and record) mode for the current models; None in tiny/replay mode or when off.

    It is a cache folder like any other (``.npz`` + ``manifest.json``, same keys), under
    ``A5KIT_LIVE_MEMO`` (default ``~/.cache/a5kit/live``) / one sub-folder per set of model sources.
    """
    if config.mode() not in ("live", "record") or config.use_tiny_models():
        return None
    root = config.live_memo_dir()
    return None if root is None else Cache(root / memo_namespace())


def memo_entries(root: Path) -> int:
    """How many results a live-memo folder holds, over all its model sources."""
    count = 0
    for manifest in root.glob("*/manifest.json"):
        with contextlib.suppress(ValueError):
            count += len(json.loads(manifest.read_text()).get("entries", {}))
    return count


def clear_live_memo() -> int:
    """Forget every memoised live result (all model sources); returns how many entries were dropped."""
    import shutil

    root = config.live_memo_dir()
    if root is None or not root.exists():
        return 0
    count = memo_entries(root)
    shutil.rmtree(root)
    return count


def _from_memo(
    memo: Cache, function: str, input_sha256: str, params: Mapping[str, Any] | None
) -> tuple[dict[str, np.ndarray], ModelInfo] | None:
    try:
        entry = memo.find(function, input_sha256, params)
        if entry is None:
            return None
        return memo.load(entry), ModelInfo(entry["model_id"], entry["model_version"], bool(entry.get("tiny")))
    except (OSError, ValueError, KeyError, CacheCorrupt):  # a damaged memo entry is recomputed, never trusted
        return None


def _to_memo(
    memo: Cache,
    function: str,
    input_description: str,
    input_sha256: str,
    params: Mapping[str, Any] | None,
    arrays: Mapping[str, np.ndarray],
    model: ModelInfo,
) -> None:
    try:
        memo.store(function, input_description, input_sha256, params, arrays, model)
    except OSError as err:  # a full or read-only disk costs the memo, not the result
        warnings.warn(f"a5kit: could not memoise {function}({input_description}) in {memo.path}: {err}", stacklevel=3)


def lookup_call(
    function: str,
    input_sha256_description: str,
    input_sha256: str,
    params: Mapping[str, Any] | None,
    cache: Cache | None = None,
) -> dict[str, np.ndarray] | None:
    """The stored result of a call without computing it: replay serves the cache (a miss raises
    :class:`CacheMiss`); live/record the memo (None if not there); tiny always None."""
    if config.mode() == "replay":
        return cached_call(function, input_sha256_description, input_sha256, params, _never, cache)
    memo = live_memo()
    found = None if memo is None else _from_memo(memo, function, input_sha256, params)
    if found is None:
        return None
    arrays, model = found
    if config.mode() == "record":
        (cache or Cache()).store(function, input_sha256_description, input_sha256, params, arrays, model)
    return arrays


def _never() -> tuple[dict[str, np.ndarray], ModelInfo]:  # pragma: no cover - replay never computes
    raise AssertionError("replay mode computed a result")


def cached_call(
    function: str,
    input_description: str,
    input_sha256: str,
    params: Mapping[str, Any] | None,
    compute: Callable[[], tuple[dict[str, np.ndarray], ModelInfo]],
    cache: Cache | None = None,
) -> dict[str, np.ndarray]:
    """Serve one expensive call according to A5KIT_MODE.

    live/tiny: compute. record: compute and store. replay: load, or raise CacheMiss naming the input.
    ``compute`` is only called when needed, so replay never imports torch or transformers.
    live and record (real models only) first look in the on-disk memo (:func:`live_memo`) and
    keep what they compute there, so a re-run cell, or ``make cache`` after a live run, is served
    at once; :func:`clear_live_memo` forgets it.
    """
    current = config.mode()
    if current == "replay":
        cache = cache or Cache()
        entry = cache.find(function, input_sha256, params)
        if entry is None:
            raise CacheMiss(cache.miss_message(function, input_description, input_sha256, params)) from None
        if entry.get("tiny"):
            warn_tiny(f"replayed from {cache.path}")
        return cache.load(entry)
    memo = live_memo()
    found = None if memo is None else _from_memo(memo, function, input_sha256, params)
    if found is not None:
        arrays, model = found
    else:
        arrays, model = compute()
        if memo is not None and not model.tiny:
            _to_memo(memo, function, input_description, input_sha256, params, arrays, model)
    if model.tiny:
        warn_tiny("A5KIT tiny models")
    if current == "record":
        (cache or Cache()).store(function, input_description, input_sha256, params, arrays, model)
    return arrays
