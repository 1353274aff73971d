"""Turn whatever a student's function returns into plain data: numbers, strings, lists, dicts,
numpy arrays, and summaries of matplotlib Axes. Tests only ever see plain data, so the same test
runs in the student's kernel and across a process boundary (JSON and .npy, never pickle).
Objects that cannot be made plain (a trained model) become a :class:`Handle` the test can pass
back to another of the student's functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Handle:
    """Stands for an object that stays in the student's kernel (e.g. a trained torch model)."""

    id: int
    type: str


def _is_axes(obj: Any) -> bool:
    return type(obj).__module__.startswith("matplotlib") and hasattr(obj, "get_xticklabels") and hasattr(obj, "images")


def axes_summary(ax: Any) -> dict[str, Any]:
    """What a test may ask about a plot: title, labels, tick labels, image data, lines, points."""
    images = [np.asarray(im.get_array(), dtype=float) for im in ax.images]
    meshes = []
    for coll in ax.collections:
        if type(coll).__name__ == "QuadMesh":  # seaborn heatmap, pcolormesh
            coords = coll.get_coordinates()
            rows, cols = coords.shape[0] - 1, coords.shape[1] - 1
            meshes.append(np.asarray(coll.get_array(), dtype=float).reshape(rows, cols))
    points = [
        {"offsets": np.asarray(c.get_offsets(), dtype=float), "facecolors": np.asarray(c.get_facecolors(), dtype=float)}
        for c in ax.collections
        if type(c).__name__ == "PathCollection"
    ]
    legend = ax.get_legend()
    return {
        "__axes__": True,
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "xticklabels": [t.get_text() for t in ax.get_xticklabels()],
        "yticklabels": [t.get_text() for t in ax.get_yticklabels()],
        "images": images + meshes,
        "lines": [
            {
                "x": np.asarray(line.get_xdata(), dtype=float),
                "y": np.asarray(line.get_ydata(), dtype=float),
                "label": str(line.get_label()),
            }
            for line in ax.get_lines()
        ],
        "points": points,
        "legend": [t.get_text() for t in legend.get_texts()] if legend is not None else [],
    }


def to_plain(obj: Any, handles: dict[int, Any]) -> Any:
    """Plain-data copy of ``obj``; unknown objects are stored in ``handles`` and replaced by a Handle."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            try:
                return np.array([to_plain(x, handles) for x in obj.tolist()])
            except Exception:
                pass
        else:
            return np.array(obj, copy=True)
    module = type(obj).__module__
    if module.startswith("torch") and hasattr(obj, "detach") and hasattr(obj, "numpy"):
        return obj.detach().cpu().numpy().copy()
    if module.startswith("pandas") and hasattr(obj, "to_numpy") and getattr(obj, "ndim", 2) == 1:
        return obj.to_numpy().copy()
    if _is_axes(obj):
        return axes_summary(obj)
    if type(obj).__name__ == "Figure" and module.startswith("matplotlib"):
        return {"__figure__": True, "axes": [axes_summary(ax) for ax in obj.axes]}
    if isinstance(obj, (list, tuple)):
        return [to_plain(x, handles) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v, handles) for k, v in obj.items()}
    handle = Handle(id(obj), f"{module}.{type(obj).__qualname__}")
    handles[handle.id] = obj
    return handle


class StaleHandle(LookupError):
    """A Handle whose object no longer exists (the kernel was restarted since it was made)."""


def from_plain(obj: Any, handles: dict[int, Any]) -> Any:
    """Arguments for the student's function: Handles become their objects again, arrays are copied."""
    if isinstance(obj, Handle):
        try:
            return handles[obj.id]
        except KeyError:
            raise StaleHandle(f"the {obj.type} from before the kernel restarted is gone") from None
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list):
        return [from_plain(x, handles) for x in obj]
    if isinstance(obj, tuple):
        return tuple(from_plain(x, handles) for x in obj)
    if isinstance(obj, dict):
        return {k: from_plain(v, handles) for k, v in obj.items()}
    return obj
