"""a5kit: helpers for "Assignment 5: Transformers and Enformer".

Submodules are imported on use (``a5kit.models``, ``a5kit.data``, ``a5kit.cache``) so that
``import a5kit`` stays cheap: the autograder replays results with numpy alone.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["cache", "config", "data", "inputs", "models"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'a5kit' has no attribute {name!r}")
