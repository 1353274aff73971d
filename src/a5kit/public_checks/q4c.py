"""q4c: the strongest first-layer filter and its best JASPAR match -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit import models, motif_match
from a5kit.checking import Failure, case
from a5kit.public_checks import stored

MISTAKES: dict[str, str] = {
    "signed_sum": "that is the largest signed sum; use absolute values, sum of |w|",
    "max_abs": "that is the filter with the single largest |w|; sum |w| over all bases and positions",
}


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


def trap(seed: int, n: int = 12, width: int = 15) -> np.ndarray:
    """Random filters where the largest total |w|, the largest signed sum and the largest single |w| are three different filters."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(scale=0.1, size=(n, 4, width))
    weights[3] -= 0.6  # large negative weights everywhere: strongest by |w|, weakest by signed sum
    weights[8] = 0.0
    weights[8, 2, 7] = 5.0  # one huge weight: the largest max |w|, but a small total
    weights[10] += 0.15  # small positive weights everywhere: the largest signed sum
    return weights.astype(np.float32)


def check_strongest(sub, weights: np.ndarray, expected: dict[str, int], what: str) -> None:
    """strongest_filter(weights) is ``expected["value"]``; the other entries name the filters typical mistakes pick."""
    got = filter_index(sub.call("strongest_filter", weights), len(weights), what)
    want = int(expected["value"])
    if got == want:
        return
    hint = next((f": {MISTAKES[name]}" for name in MISTAKES if name in expected and got == int(expected[name])), "")
    raise Failure(
        f"{what}: got {got}, expected {want}, the filter with the largest sum of |w| over bases and positions{hint}"
    )


def public_input() -> np.ndarray:
    """The fixed public input (its answer and the mistakes' answers are stored)."""
    return trap(5)


def check_top_hit(sub, weights: np.ndarray, what: str) -> None:
    """top_jaspar_hit(weights) is the top Tomtom hit of the filter the student's strongest_filter picks."""
    value = sub.call("top_jaspar_hit", weights)
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise Failure(
            f"{what}: expected a tuple (matrix_id, name) of two strings, e.g. ('MA0139.2', 'CTCF'), got {value!r:.120}"
        )
    index = filter_index(
        sub.call("strongest_filter", weights), len(weights), f"strongest_filter(filters {weights.shape})"
    )
    try:
        hits = motif_match.tomtom_jaspar(weights[index])
    except Exception as err:  # replay holds Tomtom of every first-layer filter; another array is not recorded
        raise Failure(
            f"{what}: cannot look up Tomtom for filter {index}, the one your strongest_filter picks ({type(err).__name__}): "
            "check strongest_filter first (the largest sum of |w|)"
        ) from None
    want = (str(hits["matrix_id"][0]), str(hits["name"][0]))
    if tuple(value) == want:
        return
    if value[0] in list(hits["matrix_id"]):
        raise Failure(
            f"{what}: {tuple(value)} is hit number {list(hits['matrix_id']).index(value[0]) + 1} of filter "
            f"{index}; the top hit is the first (smallest p-value): {want}. Took the first? Then pass weights[index] "
            "as it is: tomtom_jaspar makes the query from the raw weights itself, and a softmax or normalisation "
            "before it can change the hits"
        )
    raise Failure(
        f"{what}: got {tuple(value)}, expected {want}, the top Tomtom hit of filter {index} (your strongest); "
        f"pass weights[index], shape (4, width), to tomtom_jaspar"
    )


@case(points=1)
def strongest_filter_returns_the_largest_total_absolute_weight(sub):
    expected = {key: int(stored.value(f"q4c.trap.{key}")) for key in ("value", *MISTAKES)}
    check_strongest(sub, public_input(), expected, "strongest_filter(weights (12, 4, 15))")


@case(points=1)
def top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter(sub):
    check_top_hit(sub, models.enformer_first_layer_filters(), "top_jaspar_hit(filters)")
