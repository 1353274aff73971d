"""Tomtom, offline: match a convolution filter against JASPAR2024 CORE vertebrate matrices.

The comparison runs memelite's ``tomtom`` (a numba reimplementation of MEME's Tomtom) on the
matrices that pyjaspar bundles as SQLite releases, so nothing is sent to a web server. Like every
heavy call of the kit it goes through :func:`a5kit.cache.cached_call`, keyed by the sha256 of the
exact filter (as float32), so replay mode (the autograder) serves it from the cache and imports
neither memelite nor pyjaspar.

How a filter becomes a query (the kit's choices, stated so that students can weigh a hit):

1. **Probabilities.** Tomtom compares probability matrices, a filter holds weights (any sign).
   Column by column the weights go through a softmax over the four bases,
   ``p[b, j] = exp(beta * w[b, j]) / sum_b' exp(beta * w[b', j])``: the base the filter rewards
   most gets the highest probability, and a column whose weights are all equal is uniform.
2. **Fixed information content.** The scale ``beta`` is chosen so that the filter's most
   informative column carries exactly ``IC_MAX`` = 1.75 bits (of 2), whatever the size of the
   weights: a filter of small weights is not made uniform, nor one of large weights all-or-none.
   A filter whose columns are all flat (an all-zero filter) carries no information at any scale
   and gets **no hit**. 1.75 bits was chosen by measurement (docs/tomtom.md,
   scripts/tomtom_calibration.py): random filters then average one matrix at E < 1 (calibrated)
   and JASPAR matrices queried as filters find themselves best (1.5 bits: too many chance hits and
   weaker recovery; 2 bits: columns all-or-none, recovery lost).
3. **Trimming.** Columns at either end carrying less than ``IC_TRIM`` = 0.5 bits are removed
   before Tomtom. Near-uniform columns "match" the near-uniform spacer columns of long JASPAR
   matrices: without trimming an all-zero filter's top hit was CTCF MA1930.2 at E ~ 5e-12.
4. **E-value.** memelite's p-value of a target already is the p-value of the best of the
   ``n_q + n_t - 1`` offsets at which query and target overlap (no further correction). The
   E-value is this p-value times the number of matrices compared: the number of matrices expected
   to match this well by chance.

:func:`tomtom_null` runs the same comparison for an all-zero filter and for shuffled copies of a
filter (same weights, positions and bases permuted): the E-values a filter with no motif gets.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

import numpy as np

from . import config
from .cache import ModelInfo, array_sha256, cached_call

JASPAR_RELEASE = "JASPAR2024"
COLLECTION = "CORE"
TAX_GROUP = "vertebrates"
N_HITS = 10
BASES = "ACGT"
DATABASE = f"{JASPAR_RELEASE} {COLLECTION} {TAX_GROUP} (latest versions, via pyjaspar)"


IC_MAX = 1.75  # bits: the filter is scaled so that its most informative column carries this much
IC_TRIM = 0.5  # bits: columns at either end below this are trimmed before Tomtom
NULL_SHUFFLES = (
    100  # shuffled copies of a filter in tomtom_null: enough for a stable smallest null E (20 gave a noisy one)
)
QUERY = f"softmax scaled to max IC {IC_MAX} bits, end columns < {IC_TRIM} bits trimmed; E = memelite p x matrices"


def filter_to_ppm(weights: Any, scale: float = 1.0) -> np.ndarray:
    """A filter's weights (4, width), rows A C G T, as a probability matrix (4, width): softmax of ``scale * w`` per column."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != 4:
        raise ValueError(f"a filter must have shape (4, width) with rows A, C, G, T; got {w.shape}")
    w = scale * w
    e = np.exp(w - w.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def information_content(ppm: Any) -> np.ndarray:
    """Information content in bits of each column of a probability matrix (4, width): 2 - entropy."""
    p = np.clip(np.asarray(ppm, dtype=np.float64), 1e-300, 1.0)
    return 2.0 + (p * np.log2(p)).sum(axis=0)


def query_matrix(
    weights: Any, ic_max: float | None = None, ic_trim: float | None = None
) -> tuple[np.ndarray | None, int, float]:
    """(probability matrix Tomtom compares, first filter column it keeps, scale beta).

    The softmax of ``beta * w`` with ``beta`` set so that the most informative column carries
    ``ic_max`` (default ``IC_MAX``) bits, end columns below ``ic_trim`` (default ``IC_TRIM``) bits
    trimmed. ``None`` when no column carries information at any scale (e.g. an all-zero filter):
    such a filter has no hit.
    """
    ic_max = IC_MAX if ic_max is None else float(ic_max)
    ic_trim = IC_TRIM if ic_trim is None else float(ic_trim)
    w = np.asarray(weights, dtype=np.float64)
    filter_to_ppm(w)  # validates the shape
    spread = float((w.max(axis=0) - w.min(axis=0)).max()) if w.size else 0.0
    if not np.isfinite(spread) or spread <= 1e-12:
        return None, 0, 0.0

    def top(beta: float) -> float:
        return float(information_content(filter_to_ppm(w, beta)).max())

    lo, hi = 0.0, 1.0 / spread
    while top(hi) < ic_max and hi < 1e6 / spread:  # a column with tied maxima may never reach ic_max
        hi *= 2.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if top(mid) < ic_max else (lo, mid)
    ppm = filter_to_ppm(w, hi)
    keep = np.flatnonzero(information_content(ppm) >= ic_trim)
    if not len(keep):
        return None, 0, hi
    return ppm[:, keep[0] : keep[-1] + 1], int(keep[0]), hi


@functools.lru_cache(maxsize=1)
def jaspar_matrices() -> tuple[tuple[str, ...], tuple[str, ...], tuple[np.ndarray, ...]]:
    """Matrix ids, names and probability matrices (4, length) of JASPAR2024 CORE vertebrates (bundled, offline)."""
    from pyjaspar import jaspardb

    motifs = jaspardb(release=JASPAR_RELEASE).fetch_motifs(
        collection=COLLECTION, tax_group=[TAX_GROUP], all_versions=False
    )
    ids, names, matrices = [], [], []
    for motif in motifs:
        counts = np.array([motif.counts[b] for b in BASES], dtype=np.float64)
        ids.append(motif.matrix_id)
        names.append(motif.name)
        matrices.append(counts / counts.sum(axis=0, keepdims=True))
    if not ids:
        raise RuntimeError(f"pyjaspar returned no {COLLECTION} {TAX_GROUP} matrices for {JASPAR_RELEASE}")
    return tuple(ids), tuple(names), tuple(matrices)


def _versions() -> str:
    found = []
    for package in ("memelite", "pyjaspar"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return "; ".join(found)


def _empty_hits(query_start: int = 0, query_width: int = 0) -> dict[str, np.ndarray]:
    return {
        "matrix_id": np.array([], dtype="<U8"),
        "name": np.array([], dtype="<U8"),
        "p_value": np.zeros(0),
        "e_value": np.zeros(0),
        "score": np.zeros(0),
        "offset": np.zeros(0, dtype=np.int64),
        "overlap": np.zeros(0, dtype=np.int64),
        "strand": np.array([], dtype="<U1"),
        "query_start": np.zeros(0, dtype=np.int64),
        "query_width": np.zeros(0, dtype=np.int64),
    }


def target_p_values(query: np.ndarray) -> tuple[np.ndarray, ...]:
    """memelite's per-target (p-value, score, offset, overlap, strand) of one query matrix, in ``jaspar_matrices()`` order."""
    from memelite import tomtom

    p_values, scores, offsets, overlaps, strands = tomtom([query], list(jaspar_matrices()[2]), n_nearest=None)
    return np.clip(p_values[0].astype(np.float64), 0.0, 1.0), scores[0], offsets[0], overlaps[0], strands[0]


def _hits(weights: np.ndarray, n_hits: int) -> dict[str, np.ndarray]:
    """The ``n_hits`` best matches of one filter (empty when it carries no information)."""
    query, start, _ = query_matrix(weights)
    if query is None:
        return _empty_hits()
    ids, names, _ = jaspar_matrices()
    p, scores, offsets, overlaps, strands = target_p_values(query)
    order = np.argsort(p, kind="stable")[: int(n_hits)]
    return {
        "matrix_id": np.array([ids[i] for i in order]),
        "name": np.array([names[i] for i in order]),
        "p_value": p[order],
        "e_value": p[order] * len(ids),
        "score": scores[order].astype(np.float64),
        "offset": offsets[order].astype(np.int64),
        "overlap": overlaps[order].astype(np.int64),
        "strand": np.array(["+" if s == 0 else "-" for s in strands[order]]),
        "query_start": np.full(len(order), start, dtype=np.int64),
        "query_width": np.full(len(order), query.shape[1], dtype=np.int64),
    }


def _info() -> ModelInfo:
    return ModelInfo("memelite tomtom", f"{_versions()}; {DATABASE}", tiny=config.use_tiny_models())


def _run(weights: np.ndarray, n_hits: int) -> tuple[dict[str, np.ndarray], ModelInfo]:
    return _hits(weights, n_hits), _info()


def shuffled_filters(weights: Any, n: int = NULL_SHUFFLES, seed: int = 0) -> np.ndarray:
    """``n`` copies of a filter with its weights permuted over bases and positions: (n, 4, width), float32."""
    w = np.asarray(weights, dtype=np.float32)
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(w.ravel()).reshape(w.shape) for _ in range(int(n))])


def _run_null(weights: np.ndarray, n: int, seed: int) -> tuple[dict[str, np.ndarray], ModelInfo]:
    queries = [("all-zero filter", np.zeros_like(weights))]
    queries += [(f"shuffle {i + 1}", s) for i, s in enumerate(shuffled_filters(weights, n, seed))]
    rows = []
    for label, w in queries:
        hits = _hits(w, 1)
        if len(hits["matrix_id"]):
            rows.append(
                (
                    label,
                    str(hits["matrix_id"][0]),
                    str(hits["name"][0]),
                    float(hits["p_value"][0]),
                    float(hits["e_value"][0]),
                )
            )
        else:
            rows.append((label, "", "(no informative column: no hit)", 1.0, float("inf")))
    arrays = {
        "query": np.array([r[0] for r in rows]),
        "matrix_id": np.array([r[1] for r in rows]),
        "name": np.array([r[2] for r in rows]),
        "p_value": np.array([r[3] for r in rows]),
        "e_value": np.array([r[4] for r in rows]),
    }
    return arrays, _info()


def tomtom_jaspar(weights: Any, n_hits: int = N_HITS) -> dict[str, np.ndarray]:
    """The ``n_hits`` JASPAR2024 CORE vertebrate matrices closest to one filter, best first (smallest p-value).

    ``weights``: one filter, shape (4, width), rows A, C, G, T (e.g. ``enformer_first_layer_filters()[i]``).
    The filter becomes a query as the module docstring says (softmax scaled to a most informative
    column of 1.75 bits, end columns below 0.5 bits trimmed). Returns a dict of arrays, one value
    per hit: ``matrix_id``, ``name``, ``p_value`` (of the best offset), ``e_value`` (p-value times
    the number of matrices: how many matrices are expected to match this well by chance), ``score``, ``offset`` and
    ``overlap`` (relative to the trimmed query), ``strand`` (``"-"``: the filter matches the
    reverse complement of the matrix), ``query_start`` and ``query_width`` (the filter columns
    compared). A filter with no informative column (all weights equal in every column) has no
    hit: every array is empty. ``pandas.DataFrame(hits)`` shows it as a table.
    """
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float32))
    if w.ndim != 2 or w.shape[0] != 4:
        raise ValueError(f"a filter must have shape (4, width) with rows A, C, G, T; got {w.shape}")
    params = {"database": DATABASE, "n_hits": int(n_hits), "query": QUERY}
    description = f"filter (4, {w.shape[1]}) float32 sha256 {array_sha256(w)[:12]}"
    return cached_call("tomtom_jaspar", description, array_sha256(w), params, lambda: _run(w, int(n_hits)))


def tomtom_null(weights: Any, n_shuffles: int = NULL_SHUFFLES, seed: int = 0) -> dict[str, np.ndarray]:
    """What a filter without a motif gets: the top hit of an all-zero filter and of shuffled copies of ``weights``.

    The shuffles (:func:`shuffled_filters`, seeded) keep the filter's weights and permute them over
    bases and positions, so they have the same size but no motif. Returns a dict of arrays, one row
    per null query: ``query`` ("all-zero filter", "shuffle 1", ...), ``matrix_id``, ``name``,
    ``p_value`` and ``e_value`` of its top hit (no hit: empty id, E = inf). A real hit is worth
    something only if its E-value is far below every E-value here.
    """
    w = np.ascontiguousarray(np.asarray(weights, dtype=np.float32))
    if w.ndim != 2 or w.shape[0] != 4:
        raise ValueError(f"a filter must have shape (4, width) with rows A, C, G, T; got {w.shape}")
    params = {"database": DATABASE, "n_shuffles": int(n_shuffles), "seed": int(seed), "query": QUERY}
    description = f"null of filter (4, {w.shape[1]}) float32 sha256 {array_sha256(w)[:12]}"
    return cached_call(
        "tomtom_null", description, array_sha256(w), params, lambda: _run_null(w, int(n_shuffles), int(seed))
    )


def filter_alignment(weights: Any, index: int, motif: str) -> tuple[str, int]:
    """(strand, offset) of filter ``index``'s best ungapped alignment with ``motif``, for Question 4d's written part.

    ``weights`` has shape (filters, 4, width), rows A, C, G, T. The alignment is scored as in
    Question 4d (partial overlaps allowed, both strands, raw weights); the score itself is not
    returned. ``strand`` is "+" (the motif as given) or "-" (its reverse complement); ``offset`` is
    the filter column where the motif's first base falls (negative: the motif starts before the
    filter's first column).
    """
    w = np.asarray(weights, dtype=np.float64)[index]
    width = w.shape[1]
    reverse = motif.upper().translate(str.maketrans("ACGT", "TGCA"))[::-1]
    best: tuple[float, str, int] | None = None
    for strand, seq in (("+", motif.upper()), ("-", reverse)):
        x = np.pad(
            np.array([[base == b for b in seq] for base in BASES], dtype=np.float64), ((0, 0), (width - 1, width - 1))
        )
        scores = np.einsum("bw,bpw->p", w, np.lib.stride_tricks.sliding_window_view(x, width, axis=1))
        p = int(scores.argmax())
        if best is None or scores[p] > best[0]:
            best = (float(scores[p]), strand, width - 1 - p)
    assert best is not None
    return best[1], best[2]
