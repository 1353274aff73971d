"""q4c: the strongest first-layer filter and its best JASPAR match -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit import models, motif_match
from a5kit.grading import Failure, case


def reference_strongest(weights: np.ndarray) -> int:
    """The filter with the largest sum of absolute weights over bases and positions."""
    return int(np.abs(np.asarray(weights, dtype=np.float64)).sum(axis=(1, 2)).argmax())


def filter_index(value, n: int, what: str) -> int:
    if isinstance(value, (list, tuple, np.ndarray)) and np.size(value) == 1:
        value = np.asarray(value).reshape(-1)[0].item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise Failure(f"{what}: expected one filter index (an int), got {type(value).__name__} {value!r:.80}")
    if not 0 <= value < n:
        raise Failure(f"{what}: {value} is not a filter index 0..{n - 1}")
    return value


def check_top_hit(sub, weights: np.ndarray, what: str) -> None:
    value = sub.call("top_jaspar_hit", weights)
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise Failure(f"{what}: expected a tuple (matrix_id, name) of two strings, e.g. ('MA0139.2', 'CTCF'), got {value!r:.120}")
    index = reference_strongest(weights)
    hits = motif_match.tomtom_jaspar(weights[index])
    want = (str(hits["matrix_id"][0]), str(hits["name"][0]))
    if tuple(value) == want:
        return
    if value[0] in list(hits["matrix_id"]):
        raise Failure(f"{what}: {value} is hit number {list(hits['matrix_id']).index(value[0]) + 1} of filter {index}; the top hit is the first (smallest p-value): {want}")
    raise Failure(f"{what}: got {tuple(value)}, expected {want}, the top Tomtom hit of filter {index} (the strongest); check strongest_filter and pass weights[index], shape (4, width)")


@case(points=1)
def strongest_filter_returns_the_largest_total_absolute_weight(sub):
    rng = np.random.default_rng(5)
    weights = rng.normal(scale=0.1, size=(10, 4, 9))
    weights[6] *= 8
    weights = weights.astype(np.float32)
    got = filter_index(sub.call("strongest_filter", weights), 10, "strongest_filter(weights (10, 4, 9))")
    if got != 6:
        raise Failure(f"strongest_filter(weights (10, 4, 9)): got {got}, expected 6, the filter with the largest sum of |w| over bases and positions")


@case(points=1)
def top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter(sub):
    check_top_hit(sub, models.enformer_first_layer_filters(), "top_jaspar_hit(filters)")
