"""The kit's switches, read from the environment each time so tests can change them.

A5KIT_MODE        live (default) | record | replay | tiny  -- how model calls are served
A5KIT_TINY        1 = record with tiny models (``make cache TINY=1``)
A5KIT_CACHE       folder of the model-output cache (``.npz`` + ``manifest.json``)
A5KIT_DATA_DIR    folder where downloads are kept
A5KIT_DATA_MIRROR folder holding the registry's files under the same names (offline machines)
A5KIT_LIVE_MEMO   folder of the live-mode memo (results kept on disk so a re-run cell is instant);
                  0 / off turns the memo off
A5KIT_DEVICE      cpu | cuda | auto (default): where GPT-2 and Enformer run
A5KIT_GPT2_SOURCE, A5KIT_ENFORMER_SOURCE  a local ``save_pretrained`` folder (or another hub id)
                  loaded instead of the hub's pretrained weights
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

Mode = Literal["live", "record", "replay", "tiny"]
MODES: tuple[str, ...] = ("live", "record", "replay", "tiny")


class ConfigError(ValueError):
    """An environment variable of the kit holds a value it cannot use."""


def mode() -> Mode:
    """The current A5KIT_MODE, validated."""
    value = os.environ.get("A5KIT_MODE", "live").strip().lower() or "live"
    if value not in MODES:
        raise ConfigError(f"A5KIT_MODE={value!r} is not one of {', '.join(MODES)}")
    return value  # type: ignore[return-value]


def use_tiny_models() -> bool:
    """True when models are the small random ones: tiny mode, or record with A5KIT_TINY=1."""
    m = mode()
    return m == "tiny" or (m == "record" and os.environ.get("A5KIT_TINY", "") not in ("", "0"))


def _user_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "a5kit"


def cache_dir() -> Path:
    """Folder of the model-output cache."""
    value = os.environ.get("A5KIT_CACHE")
    return Path(value) if value else _user_cache_root() / "outputs"


def data_dir() -> Path:
    """Folder where downloaded files are kept."""
    value = os.environ.get("A5KIT_DATA_DIR")
    return Path(value) if value else _user_cache_root() / "downloads"


def data_mirror() -> Path | None:
    """Folder that replaces the internet for registry downloads, if set."""
    value = os.environ.get("A5KIT_DATA_MIRROR")
    return Path(value) if value else None


def live_memo_dir() -> Path | None:
    """Folder of the live-mode memo, or None when A5KIT_LIVE_MEMO turns it off."""
    value = os.environ.get("A5KIT_LIVE_MEMO", "").strip()
    if value.lower() in ("0", "off", "false", "no"):
        return None
    return Path(value) if value else _user_cache_root() / "live"


def device_override() -> str | None:
    """A5KIT_DEVICE as ``cpu`` or ``cuda``; None for auto (CUDA when available)."""
    value = os.environ.get("A5KIT_DEVICE", "").strip().lower()
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
    return {env: os.environ.get(env) or default for env, default in MODEL_SOURCES}
