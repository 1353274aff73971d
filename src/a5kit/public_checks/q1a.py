"""q1a: scaled dot-product attention -- public checks.

``scaled_dot_product_attention(q, k, v, causal=True)`` returns ``(weights, output)`` with
``weights = softmax(q kᵀ / sqrt(d_k))`` over the last axis (keys), masked so that query i sees
only keys j <= i when ``causal``, and ``output = weights @ v``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.submission import StudentError
from a5kit.public_checks import stored

FUNCTION = "scaled_dot_product_attention"


def future_mask(n_queries: int, n_keys: int) -> np.ndarray:
    """True where key j lies after query i (j > i): what a causal model may not see."""
    return np.triu(np.ones((n_queries, n_keys), dtype=bool), k=1)


# -- the usual mistakes, to name them in a failure message ---------------------------------
# The wrong weights themselves are precomputed (public cases: a5kit.public_checks.stored; hidden cases:
# the instructor's reference), so this module computes no attention.

MISTAKES: dict[str, str] = {
    "no_scale": "the scores were not divided by sqrt(d_k)",
    "scale_by_d": "the scores were divided by d_k instead of sqrt(d_k)",
    "softmax_over_queries": "the softmax ran over the wrong axis (queries, axis -2) instead of over the keys (the last axis)",
    "transposed": "the weights are transposed (rows must be queries, columns keys)",
    "no_mask": "the causal mask is missing: query i must not see keys j > i",
    "mask_after_softmax": "the mask was applied after the softmax, so rows no longer sum to 1",
    "mask_not_asked": "a causal mask was applied although causal=False",
}


def diagnose(weights: Any, mistakes: dict[str, np.ndarray], causal: bool) -> str:
    """' (looks like ...)' when ``weights`` equal one of the known wrong ``mistakes`` (name -> weights), else ''."""
    try:
        got = np.asarray(weights, dtype=float)
        for name, wrong in mistakes.items():
            if got.shape == wrong.shape and np.allclose(got, wrong, atol=1e-5, rtol=1e-4, equal_nan=True):
                return f" (looks like {MISTAKES[name]})"
        if causal and got.ndim >= 2 and got.shape[-1] == got.shape[-2] > 1:
            diagonal = np.nan_to_num(np.diagonal(got, axis1=-2, axis2=-1), nan=0.0)
            if np.allclose(diagonal, 0):
                return (
                    " (looks like the mask also hides the diagonal: a token may attend to itself; mask only keys j > i)"
                )
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


def check_attention(
    sub, q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, expected: dict[str, Any], what: str
) -> None:
    """Weights and output equal ``expected`` ("weights", "output", "mistakes"); a failure names the likely mistake."""
    weights, output = call_attention(sub, q, k, v, causal)
    try:
        expect.close(weights, expected["weights"], f"weights of {what}")
    except Failure as fail:
        raise Failure(f"{fail}{diagnose(weights, expected['mistakes'], causal)}") from None
    expect.close(output, expected["output"], f"output of {what} (should be weights @ v)")


@contextmanager
def batched_hint() -> Iterator[None]:
    """A shape error on batched inputs is almost always k.T: say so."""
    try:
        yield
    except StudentError as err:
        if isinstance(err.error, NotImplementedError):
            raise
        raise Failure(
            f"{err} (for batched inputs transpose only the last two axes of k: np.swapaxes(k, -1, -2) or k.swapaxes(-1, -2), not k.T)"
        ) from None
    except Failure as fail:
        if "shape" in str(fail) or "transposed" in str(fail):
            raise Failure(
                f"{fail} (for batched inputs transpose only the last two axes of k: np.swapaxes(k, -1, -2), not k.T)"
            ) from None
        raise


def random_qkv(seed: int, lead: tuple[int, ...] = (), n: int = 6, d_k: int = 8, d_v: int = 5, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(*lead, n, d_k)) * scale
    k = rng.normal(size=(*lead, n, d_k)) * scale
    v = rng.normal(size=(*lead, n, d_v))
    return q, k, v


def check_large_scores(
    sub, q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool, expected: dict[str, Any]
) -> None:
    """Scores of order 1e3: finite weights equal to ``expected`` only when the row maximum is subtracted before exp."""
    weights, output = call_attention(sub, q, k, v, causal=causal)
    largest = float(np.abs(q @ np.swapaxes(k, -1, -2)).max() / np.sqrt(q.shape[-1]))
    what = f"weights for large scores (|q·k|/sqrt(d_k) up to {largest:.0f}), causal={causal}"
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
        raise Failure(
            f"{what}: contain NaN or inf: exp() overflowed. Subtract each row's maximum score before exp (softmax is unchanged by it)"
        )
    try:
        expect.close(weights, expected["weights"], what)
    except Failure as fail:
        raise Failure(f"{fail}{diagnose(weights, expected['mistakes'], causal)}") from None
    expect.close(output, expected["output"], f"output for large scores, causal={causal}")


# -- cases ------------------------------------------------------------------------------


def stored_expected(name: str) -> dict[str, Any]:
    """The precomputed answer of public input ``name``, with its wrong variants."""
    prefix = f"q1a.{name}"
    return {
        "weights": stored.value(f"{prefix}.weights"),
        "output": stored.value(f"{prefix}.output"),
        "mistakes": stored.mistakes(prefix),
    }


@case(points=0.5)
def matches_softmax_of_scaled_scores_without_mask(sub):
    q, k, v = random_qkv(1)
    check_attention(sub, q, k, v, False, stored_expected("unmasked"), what="random q, k (6, 8), v (6, 5), causal=False")


@case(points=0.5)
def causal_mask_zeroes_the_upper_triangle(sub):
    q, k, v = random_qkv(2)
    weights, _ = call_attention(sub, q, k, v, causal=True)
    future = future_mask(6, 6)
    if not np.all(np.isfinite(weights)):
        raise Failure(
            "weights with causal=True contain NaN or inf: mask with -inf (or a large negative number) before "
            "the softmax, and keep the diagonal"
        )
    if np.abs(weights[future]).max() > 1e-8:
        i, j = (int(x) for x in np.argwhere(np.abs(weights) * future > 1e-8)[0])
        raise Failure(
            f"with causal=True, weights[{i}, {j}] = {weights[i, j]:.3g}: query {i} attends to the later key {j}. "
            "The causal mask is missing: set the scores above the diagonal (j > i) to -inf before the softmax"
        )


def check_rows_sum_to_one(sub, q: np.ndarray, k: np.ndarray, v: np.ndarray, what: str) -> None:
    """Every query's causal weights over the keys are finite and sum to 1; a failure says why not."""
    weights, _ = call_attention(sub, q, k, v, causal=True)
    if not np.all(np.isfinite(weights)):
        raise Failure(
            f"weights of {what} contain NaN or inf: exp() overflowed (or a whole row was masked). "
            "Subtract each row's maximum score before exp (softmax is unchanged by it), and mask only keys j > i"
        )
    sums = weights.sum(axis=-1)
    if not np.allclose(sums, 1, atol=1e-6):
        i = np.unravel_index(int(np.argmax(np.abs(sums - 1))), sums.shape)
        column_sums = weights.sum(axis=-2)
        hint = (
            "the softmax normalised over the wrong axis (the columns sum to 1): normalise over the last axis, the keys"
            if np.allclose(column_sums, 1, atol=1e-6)
            else "each query's weights over the keys must sum to 1: softmax over the last axis, and apply the mask before it, not after"
        )
        raise Failure(f"weights of {what}: row {tuple(int(x) for x in i)} sums to {sums[i]:.6g}, not 1: {hint}")


@case(points=0.5)
def rows_sum_to_one_also_for_batched_inputs_and_large_scores(sub):
    q, k, v = random_qkv(3)
    check_rows_sum_to_one(sub, q, k, v, "random q, k (6, 8), causal=True")
    q, k, v = random_qkv(13, lead=(2, 3), n=5, d_k=4, d_v=3)
    with batched_hint():
        check_rows_sum_to_one(sub, q, k, v, "batched q, k (2, 3, 5, 4), causal=True")
    q, k, v = random_qkv(14, n=6, d_k=8, d_v=4, scale=60.0)
    largest = float(np.abs(q @ k.T).max() / np.sqrt(8))
    check_rows_sum_to_one(sub, q, k, v, f"large scores (|q·k|/sqrt(d_k) up to {largest:.0f})")
