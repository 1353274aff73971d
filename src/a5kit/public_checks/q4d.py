"""q4d: the first-layer filter closest to a motif -- public checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from a5kit.checking import Failure, case
from a5kit.public_checks import stored
from a5kit.public_checks.q4c import filter_index

MYOD1_MOTIF = "GCGCAGCTGTCCTGA"


def _site_rows(motif: str, strand: str) -> np.ndarray:
    """The motif as a (4, L) 0/1 matrix, rows A, C, G, T, read on ``strand``: on "-" both axes flip
    (rows A C G T reversed are the complements T G C A; columns reversed read the strand backwards);
    "complement" flips the rows only (a decoy for the complemented-but-not-reversed mistake)."""
    rows = np.array([[1.0 if b == base else 0.0 for b in motif] for base in "ACGT"])
    return {"+": rows, "-": rows[::-1, ::-1], "complement": rows[::-1]}[strand]


MISTAKES: dict[str, str] = {
    "forward_only": (
        "that is the best filter on the forward strand only; score the reverse complement of the motif too and "
        "keep the better strand"
    ),
    "complement_not_reversed": (
        "that is the best filter when the motif is complemented but not reversed; the other strand is the "
        "reverse complement (complement, then reverse the order)"
    ),
    "offset_zero_only": (
        "that is the best filter when filter and motif are aligned at offset 0 only; slide the filter along "
        "the motif (pad with N) and keep the best offset"
    ),
    "normalised": (
        "that is the best score divided by the filter's norm; the task asks for the raw alignment score (the "
        "sum of the filter's weights at the motif's bases), so a strongly weighted match wins"
    ),
    "summed_strands": (
        "that is the best filter when the two strands' scores are added; a filter matches one strand: keep the "
        "better strand's score (the maximum), not the sum"
    ),
}
# When two mistakes pick the same filter, one message names both.
BOTH_STRAND_MISTAKES = (
    "that is the best filter on the forward strand only, or with the two strands' scores added; score the "
    "reverse complement of the motif too and keep the better strand (the maximum), not the sum"
)


def planted(seed: int, motif: str, n: int = 12, width: int = 15, strand: str = "+", offset: int = 0) -> np.ndarray:
    """Random filters, one of which (index n // 2) is the motif's one-hot on ``strand``, shifted by ``offset``.

    ``strand``: "+", "-" or "complement" (complemented, not reversed: a typical mistake).
    """
    rng = np.random.default_rng(seed)
    weights = rng.normal(scale=0.15, size=(n, 4, width))
    site = _site_rows(motif, strand)
    planted_filter = np.zeros((4, width))
    for j in range(width):
        if 0 <= j - offset < site.shape[1]:
            planted_filter[:, j] = site[:, j - offset]
    weights[n // 2] += planted_filter - 0.3 * (1 - planted_filter) * (planted_filter.sum(axis=0) > 0)
    return weights.astype(np.float32)


def check_closest(sub, weights: np.ndarray, motif: str, expected: dict[str, Any], what: str) -> None:
    """closest_filter(weights, motif) is ``expected["value"]``; ``expected["scores"]`` holds every filter's best
    alignment score and the MISTAKES entries the filters typical mistakes pick."""
    got = filter_index(sub.call("closest_filter", weights, motif), len(weights), what)
    want = int(expected["value"])
    if got == want:
        return
    named = [
        name for name in MISTAKES if name in expected and int(expected[name]) != want and got == int(expected[name])
    ]
    hint = (
        f": {BOTH_STRAND_MISTAKES}"
        if {"forward_only", "summed_strands"} <= set(named)
        else (f": {MISTAKES[named[0]]}" if named else "")
    )
    scores = np.asarray(expected["scores"])
    raise Failure(
        f"{what}: got filter {got}, expected {want} (best score {scores[want]:.3f}, yours {scores[got]:.3f}){hint}"
    )


def public_inputs() -> dict[str, np.ndarray]:
    """The fixed public inputs (answers stored): the motif planted on the forward strand; on the reverse
    strand; and on the forward strand shifted by 4 columns, with a decoy that wins only at offset 0."""
    reverse = planted(9, MYOD1_MOTIF, strand="-")
    reverse[2] = planted(10, MYOD1_MOTIF[:11] + "TTTT", strand="+")[6] * 0.8  # a weaker forward decoy
    reverse[4] = (
        planted(11, MYOD1_MOTIF, strand="complement")[6] * 0.9
    )  # a weaker decoy on the complement, not reversed
    shifted = planted(12, MYOD1_MOTIF, strand="+", offset=4)
    shifted[8] = planted(13, MYOD1_MOTIF[:9] + "AAAAAA", strand="+")[6] * 0.8  # a decoy that only wins at offset 0
    strong = planted(14, MYOD1_MOTIF, strand="+")
    strong[3] = 3.0 * planted(15, MYOD1_MOTIF[:8] + "N" * 7, strand="+")[6].clip(
        min=0
    )  # half a match, three times the weight:
    # the best raw score, not the best score per unit of filter norm (a normalised score picks filter 6)
    return {"forward": planted(7, MYOD1_MOTIF, strand="+"), "reverse": reverse, "shifted": shifted, "strong": strong}


def stored_expected(name: str) -> dict[str, Any]:
    return {key: stored.value(f"q4d.{name}.{key}") for key in ("value", "scores", *MISTAKES)}


@case(points=0.5)
def closest_filter_finds_a_planted_forward_match(sub):
    check_closest(
        sub,
        public_inputs()["forward"],
        MYOD1_MOTIF,
        stored_expected("forward"),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r})",
    )
    check_closest(
        sub,
        public_inputs()["strong"],
        MYOD1_MOTIF,
        stored_expected("strong"),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r}) with a strongly weighted half match",
    )


@case(points=0.5)
def closest_filter_finds_a_match_on_the_reverse_strand(sub):
    check_closest(
        sub,
        public_inputs()["reverse"],
        MYOD1_MOTIF,
        stored_expected("reverse"),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r}) with the best match on the reverse strand",
    )


@case(points=0.25)
def closest_filter_keeps_the_best_offset(sub):
    check_closest(
        sub,
        public_inputs()["shifted"],
        MYOD1_MOTIF,
        stored_expected("shifted"),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r}) with the best match 4 columns into the filter",
    )
