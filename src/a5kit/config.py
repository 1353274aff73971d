"""The kit's switches: every ``A5KIT_*`` environment variable is declared here and read only here.

Other modules call the functions below; a test (tests/test_config.py) fails when a module outside
this one reads an ``A5KIT_*`` variable from ``os.environ``. Values are read each time, so tests can
change them. A parent process may still *set* variables for a child it starts (the grader for the
student's kernel, ``make`` for the tools), since the environment is what crosses a process boundary.

Within one process, :func:`overriding` sets values without touching ``os.environ`` (the trusted
grader serves replay-mode model outputs and precomputed expected values this way, so nothing it
runs inherits them by accident). The declared variables, their defaults and meanings:
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["live", "record", "replay", "tiny"]
MODES: tuple[str, ...] = ("live", "record", "replay", "tiny")


@dataclass(frozen=True)
class Variable:
    """One declared environment variable: its name, default (as text; "" = unset) and meaning."""

    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    # -- model calls, data and caches (students, instructors, tests) --
    Variable("A5KIT_MODE", "live", "live | record | replay | tiny: how model calls are served"),
    Variable("A5KIT_TINY", "", "1 = record with tiny models (`make cache TINY=1`)"),
    Variable("A5KIT_CACHE", "~/.cache/a5kit/outputs", "folder of the model-output cache (.npz + manifest.json)"),
    Variable("A5KIT_DATA_DIR", "~/.cache/a5kit/downloads", "folder where downloads are kept"),
    Variable("A5KIT_DATA_MIRROR", "", "folder holding the registry's files under the same names (offline machines)"),
    Variable("A5KIT_LIVE_MEMO", "~/.cache/a5kit/live", "folder of the live-mode memo; 0 / off turns it off"),
    Variable("A5KIT_DEVICE", "auto", "cpu | cuda | auto: where GPT-2 and Enformer run"),
    Variable("A5KIT_GPT2_SOURCE", "gpt2", "a local save_pretrained folder (or another hub id) loaded instead of GPT-2"),
    Variable("A5KIT_ENFORMER_SOURCE", "EleutherAI/enformer-official-rough", "the same for Enformer"),
    Variable("A5KIT_ENFORMER_BATCH", "", "windows per Enformer batch (default 4 on a GPU, 1 on the CPU)"),
    Variable(
        "A5KIT_EXPECTED_VERSION", "", "the a5kit version the notebook's setup cell asked for (set by the setup cell)"
    ),
    # -- release and autograder build (instructor) --
    Variable("A5KIT_REPOSITORY", "", "public student repository the release links to (else pyproject.toml)"),
    Variable("A5KIT_REF", "", "pinned tag or commit of that repository (else pyproject.toml)"),
    Variable("A5KIT_HIDDEN_SEED", "", "seed of the hidden motif test set (`make autograder` draws one when unset)"),
    Variable("A5KIT_REHEARSE_THREADS", "2", "torch threads of `make rehearse`"),
    # -- grading --
    Variable("A5KIT_AUTOGRADER", "", "1 in the student's kernel under the Gradescope grader (set by the grader)"),
    Variable(
        "A5KIT_HIDDEN_TESTS",
        "",
        "folder of the hidden test modules, for nbgrader autograde (else autograder/tests above the cwd)",
    ),
    Variable("A5KIT_EXPECTED", "", "folder of precomputed expected values (the autograder's expected/)"),
    Variable("A5KIT_STUDENT_USER", "", "user the notebooks run as, overriding grader.json's (tests, `make bench`)"),
    Variable(
        "A5KIT_GRADER_PYTHON", "$ROOT/venv/bin/python", "interpreter run_autograder uses (read by that shell script)"
    ),
    Variable("A5KIT_SETUP_PYTHON", "", "interpreter setup.sh tries first (read by that shell script)"),
    Variable(
        "A5KIT_TEST_SHARED_DATA", "../shared/data", "reference data for the test suite (read by tests/conftest.py)"
    ),
)
DECLARED: frozenset[str] = frozenset(v.name for v in VARIABLES)

__doc__ += (
    "\n"
    + "\n".join(f"{v.name:24} {v.meaning}" + (f" (default {v.default})" if v.default else "") for v in VARIABLES)
    + "\n"
)


class ConfigError(ValueError):
    """An environment variable of the kit holds a value it cannot use."""


_overrides: dict[str, str | None] = {}


def get(name: str) -> str | None:
    """The raw value of the declared variable ``name`` (an override of :func:`overriding` first), None if unset."""
    if name not in DECLARED:
        raise KeyError(f"{name} is not declared in a5kit.config.VARIABLES")
    if name in _overrides:
        return _overrides[name]
    return os.environ.get(name)


def _text(name: str) -> str:
    return (get(name) or "").strip()


@contextlib.contextmanager
def overriding(**values: str | os.PathLike[str] | None) -> Iterator[None]:
    """Within this process, for the duration: ``values`` (declared names; None = unset) instead of the environment."""
    for name in values:
        if name not in DECLARED:
            raise KeyError(f"{name} is not declared in a5kit.config.VARIABLES")
    saved = dict(_overrides)
    _overrides.update({k: (None if v is None else os.fspath(v)) for k, v in values.items()})
    try:
        yield
    finally:
        _overrides.clear()
        _overrides.update(saved)


def mode() -> Mode:
    """The current A5KIT_MODE, validated."""
    value = _text("A5KIT_MODE").lower() or "live"
    if value not in MODES:
        raise ConfigError(f"A5KIT_MODE={value!r} is not one of {', '.join(MODES)}")
    return value  # type: ignore[return-value]


def use_tiny_models() -> bool:
    """True when models are the small random ones: tiny mode, or record with A5KIT_TINY=1."""
    m = mode()
    return m == "tiny" or (m == "record" and (get("A5KIT_TINY") or "") not in ("", "0"))


def _user_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "a5kit"


def cache_dir() -> Path:
    """Folder of the model-output cache."""
    value = get("A5KIT_CACHE")
    return Path(value) if value else _user_cache_root() / "outputs"


def data_dir() -> Path:
    """Folder where downloaded files are kept."""
    value = get("A5KIT_DATA_DIR")
    return Path(value) if value else _user_cache_root() / "downloads"


def data_mirror() -> Path | None:
    """Folder that replaces the internet for registry downloads, if set."""
    value = get("A5KIT_DATA_MIRROR")
    return Path(value) if value else None


def live_memo_dir() -> Path | None:
    """Folder of the live-mode memo, or None when A5KIT_LIVE_MEMO turns it off."""
    value = _text("A5KIT_LIVE_MEMO")
    if value.lower() in ("0", "off", "false", "no"):
        return None
    return Path(value) if value else _user_cache_root() / "live"


def device_override() -> str | None:
    """A5KIT_DEVICE as ``cpu`` or ``cuda``; None for auto (CUDA when available)."""
    value = _text("A5KIT_DEVICE").lower()
    if value in ("", "auto"):
        return None
    if value.startswith("cuda"):
        return "cuda"
    if value == "cpu":
        return "cpu"
    raise ConfigError(f"A5KIT_DEVICE={value!r} is not one of cpu, cuda, auto")


MODEL_SOURCES: tuple[tuple[str, str], ...] = (
    ("A5KIT_GPT2_SOURCE", "gpt2"),
    ("A5KIT_ENFORMER_SOURCE", "EleutherAI/enformer-official-rough"),
)


def model_sources() -> dict[str, str]:
    """Where the real models come from: the hub ids, or the folders the *_SOURCE variables name."""
    return {env: get(env) or default for env, default in MODEL_SOURCES}


def model_source(name: str, default: str) -> str:
    """Where one model comes from: the folder or hub id ``name`` (A5KIT_GPT2_SOURCE, ...) gives, else ``default``."""
    return get(name) or default


def enformer_batch() -> int | None:
    """A5KIT_ENFORMER_BATCH as a positive count, or None when unset."""
    value = _text("A5KIT_ENFORMER_BATCH")
    return max(1, int(value)) if value else None


def expected_version() -> str | None:
    """The a5kit version the notebook's setup cell recorded (A5KIT_EXPECTED_VERSION), if any."""
    return get("A5KIT_EXPECTED_VERSION") or None


def release_target() -> tuple[str | None, str | None]:
    """(A5KIT_REPOSITORY, A5KIT_REF) when set: they override pyproject.toml's release table."""
    return get("A5KIT_REPOSITORY") or None, get("A5KIT_REF") or None


def hidden_seed() -> int | None:
    """A5KIT_HIDDEN_SEED as an integer, or None when unset."""
    value = _text("A5KIT_HIDDEN_SEED")
    return int(value) if value else None


def rehearse_threads() -> int:
    """Torch threads of ``make rehearse`` (A5KIT_REHEARSE_THREADS, default 2)."""
    return int(_text("A5KIT_REHEARSE_THREADS") or "2")


def under_autograder() -> bool:
    """True in the student's kernel under the Gradescope grader (A5KIT_AUTOGRADER=1): tests run outside it."""
    return get("A5KIT_AUTOGRADER") == "1"


def hidden_tests_dir() -> Path | None:
    """The folder A5KIT_HIDDEN_TESTS names, if set."""
    value = get("A5KIT_HIDDEN_TESTS")
    return Path(value) if value else None


def expected_dir() -> Path | None:
    """The folder of precomputed expected values (A5KIT_EXPECTED), if set."""
    value = get("A5KIT_EXPECTED")
    return Path(value) if value else None


def student_user() -> str | None:
    """A5KIT_STUDENT_USER, which overrides grader.json's student user, if set."""
    return get("A5KIT_STUDENT_USER")
