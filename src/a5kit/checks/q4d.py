"""q4d: the first-layer filter closest to a motif -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checks.q4c import filter_index
from a5kit.grading import Failure, case

MYOD1_MOTIF = "GCGCAGCTGTCCTGA"
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def one_hot_rows(sequence: str) -> np.ndarray:
    """(4, L): rows A, C, G, T."""
    return np.array([[1.0 if b == base else 0.0 for b in sequence] for base in "ACGT"])


def revcomp(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def strand_scores(weights: np.ndarray, sequence: str) -> np.ndarray:
    """Best score of each filter (n, 4, w) on one strand: every ungapped alignment, partial overlaps
    included (the motif padded with w - 1 zero columns on each side)."""
    w = np.asarray(weights, dtype=np.float64)
    width = w.shape[2]
    padded = np.pad(one_hot_rows(sequence), ((0, 0), (width - 1, width - 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (4, positions, w)
    return np.einsum("fbw,bpw->fp", w, windows).max(axis=1)


def alignment_scores(weights: np.ndarray, motif: str) -> np.ndarray:
    """Best ungapped alignment score of ``motif`` against every filter, both strands: (n,)."""
    return np.maximum(strand_scores(weights, motif), strand_scores(weights, revcomp(motif)))


def reference_closest(weights: np.ndarray, motif: str) -> int:
    return int(alignment_scores(weights, motif).argmax())


def planted(seed: int, motif: str, n: int = 12, width: int = 15, strand: str = "+", offset: int = 0) -> np.ndarray:
    """Random filters, one of which (index n // 2) is the motif's one-hot on ``strand``, shifted by ``offset``."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(scale=0.15, size=(n, 4, width))
    site = one_hot_rows(motif if strand == "+" else revcomp(motif))
    planted_filter = np.zeros((4, width))
    for j in range(width):
        if 0 <= j - offset < site.shape[1]:
            planted_filter[:, j] = site[:, j - offset]
    weights[n // 2] += planted_filter - 0.3 * (1 - planted_filter) * (planted_filter.sum(axis=0) > 0)
    return weights.astype(np.float32)


def check_closest(sub, weights: np.ndarray, motif: str, what: str) -> None:
    got = filter_index(sub.call("closest_filter", weights, motif), len(weights), what)
    want = reference_closest(weights, motif)
    if got == want:
        return
    forward_only = int(strand_scores(weights, motif).argmax())
    full_overlap_only = int(np.maximum(_aligned(weights, motif), _aligned(weights, revcomp(motif))).argmax())
    hint = ""
    if got == forward_only and forward_only != want:
        hint = ": that is the best filter on the forward strand only; score the reverse complement of the motif too and keep the better strand"
    elif got == full_overlap_only and full_overlap_only != want:
        hint = ": that is the best filter when filter and motif are aligned at offset 0 only; slide the filter along the motif (pad with N) and keep the best offset"
    raise Failure(f"{what}: got filter {got}, expected {want} (best score {alignment_scores(weights, motif)[want]:.3f}, yours {alignment_scores(weights, motif)[got]:.3f}){hint}")


def _aligned(weights: np.ndarray, motif: str) -> np.ndarray:
    """Scores at offset 0 only (the motif's first base on the filter's first position)."""
    w = np.asarray(weights, dtype=np.float64)
    m = one_hot_rows(motif)
    k = min(w.shape[2], m.shape[1])
    return np.einsum("fbw,bw->f", w[:, :, :k], m[:, :k])


@case(points=1)
def closest_filter_finds_a_planted_forward_match(sub):
    weights = planted(7, MYOD1_MOTIF, strand="+")
    check_closest(sub, weights, MYOD1_MOTIF, f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r})")
