"""q1a: scaled dot-product attention -- public checks.

``scaled_dot_product_attention(q, k, v, causal=True)`` returns ``(weights, output)`` with
``weights = softmax(q kᵀ / sqrt(d_k))`` over the last axis (keys), masked so that query i sees
only keys j <= i when ``causal``, and ``output = weights @ v``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from a5kit.grading import Failure, case, expect

FUNCTION = "scaled_dot_product_attention"


# -- reference (float64) --------------------------------------------------------------------


def _softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _scores(q: np.ndarray, k: np.ndarray, scale: float | None = None) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if scale is None:
        scale = 1 / np.sqrt(q.shape[-1])
    return q @ np.swapaxes(k, -1, -2) * scale


def future_mask(n_queries: int, n_keys: int) -> np.ndarray:
    """True where key j lies after query i (j > i): what a causal model may not see."""
    return np.triu(np.ones((n_queries, n_keys), dtype=bool), k=1)


def reference_weights(q: Any, k: Any, causal: bool = True) -> np.ndarray:
    scores = _scores(q, k)
    if causal:
        scores = np.where(future_mask(*scores.shape[-2:]), -np.inf, scores)
    return _softmax(scores)


def reference_attention(q: Any, k: Any, v: Any, causal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(weights, output) of scaled dot-product attention, in float64."""
    weights = reference_weights(q, k, causal)
    return weights, weights @ np.asarray(v, dtype=np.float64)


# -- the usual mistakes, to name them in a failure message ---------------------------------


def _mistakes(q: Any, k: Any, causal: bool) -> list[tuple[str, np.ndarray]]:
    d = np.asarray(q).shape[-1]
    mask = future_mask(*_scores(q, k).shape[-2:])

    def masked(scores: np.ndarray, on: bool = causal) -> np.ndarray:
        return np.where(mask, -np.inf, scores) if on else scores

    right = reference_weights(q, k, causal)
    found = [
        ("the scores were not divided by sqrt(d_k)", _softmax(masked(_scores(q, k, 1.0)))),
        ("the scores were divided by d_k instead of sqrt(d_k)", _softmax(masked(_scores(q, k, 1.0 / d)))),
        ("the softmax ran over the wrong axis (queries, axis -2) instead of over the keys (the last axis)", _softmax(masked(_scores(q, k)), axis=-2)),
        ("the weights are transposed (rows must be queries, columns keys)", np.swapaxes(right, -1, -2)),
    ]
    if causal:
        found += [
            ("the causal mask is missing: query i must not see keys j > i", _softmax(_scores(q, k))),
            ("the mask was applied after the softmax, so rows no longer sum to 1", np.where(mask, 0.0, _softmax(_scores(q, k)))),
        ]
    else:
        found.append(("a causal mask was applied although causal=False", reference_weights(q, k, True)))
    return found


def diagnose(weights: Any, q: Any, k: Any, causal: bool) -> str:
    """' (looks like ...)' when ``weights`` equal a known wrong variant, else ''."""
    try:
        got = np.asarray(weights, dtype=float)
        for text, wrong in _mistakes(q, k, causal):
            if got.shape == wrong.shape and np.allclose(got, wrong, atol=1e-5, rtol=1e-4, equal_nan=True):
                return f" (looks like {text})"
        if causal and got.ndim >= 2 and got.shape[-1] == got.shape[-2] > 1:
            diagonal = np.nan_to_num(np.diagonal(got, axis1=-2, axis2=-1), nan=0.0)
            if np.allclose(diagonal, 0):
                return " (looks like the mask also hides the diagonal: a token may attend to itself; mask only keys j > i)"
    except Exception:  # the shape was wrong; the caller's message already says so
        pass
    return ""


# -- calling the student's function --------------------------------------------------------


def call_attention(sub, q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> tuple[np.ndarray, np.ndarray]:
    """The student's (weights, output), checked to be a pair of arrays of the right shapes."""
    result = sub.call(FUNCTION, q, k, v, causal=causal)
    if not isinstance(result, list) or len(result) != 2:
        kind = f"a sequence of {len(result)} values" if isinstance(result, list) else type(result).__name__
        raise Failure(f"{FUNCTION}() must return a pair (weights, output); it returned {kind}")
    lead, n, d_v = q.shape[:-2], q.shape[-2], v.shape[-1]
    weights = expect.array(result[0], "weights", (*lead, n, k.shape[-2]))
    output = expect.array(result[1], "output", (*lead, n, d_v))
    return weights, output


def check_against_reference(sub, q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, what: str) -> None:
    """Weights and output equal the float64 reference; a failure names the likely mistake."""
    weights, output = call_attention(sub, q, k, v, causal)
    want_w, want_out = reference_attention(q, k, v, causal)
    try:
        expect.close(weights, want_w, f"weights of {what}")
    except Failure as fail:
        raise Failure(f"{fail}{diagnose(weights, q, k, causal)}") from None
    expect.close(output, want_out, f"output of {what} (should be weights @ v)")


def random_qkv(seed: int, lead: tuple[int, ...] = (), n: int = 6, d_k: int = 8, d_v: int = 5, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*lead, n, d_k)) * scale
    k = rng.normal(size=(*lead, n, d_k)) * scale
    v = rng.normal(size=(*lead, n, d_v))
    return q, k, v


# -- cases ------------------------------------------------------------------------------


@case(points=0.5)
def matches_softmax_of_scaled_scores_without_mask(sub):
    q, k, v = random_qkv(1)
    check_against_reference(sub, q, k, v, causal=False, what="random q, k (6, 8), v (6, 5), causal=False")


@case(points=0.5)
def causal_mask_zeroes_the_upper_triangle(sub):
    q, k, v = random_qkv(2)
    weights, _ = call_attention(sub, q, k, v, causal=True)
    future = future_mask(6, 6)
    if not np.all(np.isfinite(weights)):
        raise Failure("weights with causal=True contain NaN or inf: mask with -inf (or a large negative number) before the softmax, and keep the diagonal")
    if np.abs(weights[future]).max() > 1e-8:
        i, j = (int(x) for x in np.argwhere(np.abs(weights) * future > 1e-8)[0])
        raise Failure(
            f"with causal=True, weights[{i}, {j}] = {weights[i, j]:.3g}: query {i} attends to the later key {j}. "
            "The causal mask is missing: set the scores above the diagonal (j > i) to -inf before the softmax"
        )


@case(points=0.5)
def rows_sum_to_one(sub):
    q, k, v = random_qkv(3)
    weights, _ = call_attention(sub, q, k, v, causal=True)
    sums = weights.sum(axis=-1)
    if not np.allclose(sums, 1, atol=1e-6):
        i = int(np.argmax(np.abs(sums - 1)))
        column_sums = weights.sum(axis=-2)
        hint = (
            "the softmax normalised over the wrong axis (the columns sum to 1): normalise over the last axis, the keys"
            if np.allclose(column_sums, 1, atol=1e-6)
            else "each query's weights over the keys must sum to 1: softmax over the last axis, and apply the mask before it, not after"
        )
        raise Failure(f"row {i} of the weights sums to {sums[i]:.6g}, not 1: {hint}")
