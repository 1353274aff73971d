"""q1a: scaled dot-product attention -- hidden checks (autograder only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from a5kit import models
from a5kit.checks.q1a import call_attention, check_against_reference, diagnose, random_qkv, reference_attention
from a5kit.grading import Failure, case, expect
from a5kit.grading.submission import StudentError
from a5kit.inputs import ACTIVE_SENTENCE


@contextmanager
def batched_hint() -> Iterator[None]:
    """A shape error on batched inputs is almost always k.T: say so."""
    try:
        yield
    except StudentError as err:
        if isinstance(err.error, NotImplementedError):
            raise
        raise Failure(f"{err} (for batched inputs transpose only the last two axes of k: np.swapaxes(k, -1, -2) or k.swapaxes(-1, -2), not k.T)") from None


@case(points=0.5)
def batched_inputs_use_the_last_two_axes(sub):
    q, k, v = random_qkv(11, lead=(2, 3), n=5, d_k=4, d_v=3)
    with batched_hint():
        check_against_reference(sub, q, k, v, causal=True, what="batched q, k (2, 3, 5, 4), v (2, 3, 5, 3), causal=True")


@case(points=1)
def large_logits_are_numerically_stable(sub):
    # scores of order 1e3-1e4: exp() overflows to inf unless the row maximum is subtracted first
    q, k, v = random_qkv(12, n=6, d_k=8, d_v=4, scale=60.0)
    largest = np.abs(q @ k.T).max() / np.sqrt(8)
    for causal in (True, False):
        weights, output = call_attention(sub, q, k, v, causal=causal)
        what = f"weights for large scores (|q·k|/sqrt(d_k) up to {largest:.0f}), causal={causal}"
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
            raise Failure(f"{what}: contain NaN or inf: exp() overflowed. Subtract each row's maximum score before exp (softmax is unchanged by it)")
        want_w, want_out = reference_attention(q, k, v, causal)
        try:
            expect.close(weights, want_w, what)
        except Failure as fail:
            raise Failure(f"{fail}{diagnose(weights, q, k, causal)}") from None
        expect.close(output, want_out, f"output for large scores, causal={causal}")


@case(points=1)
def reproduces_gpt2_layer0_attention_for_all_12_heads(sub):
    q, k = models.gpt2_qk(ACTIVE_SENTENCE, layer=0)
    _, attentions = models.gpt2_attentions(ACTIVE_SENTENCE)
    with batched_hint():
        weights, _ = call_attention(sub, q, k, k, causal=True)
    what = f"weights from GPT-2's layer-0 q, k {q.shape} vs the model's attentions[0]"
    try:
        expect.close(weights, attentions[0].astype(np.float64), what, atol=1e-5, rtol=1e-4)
    except Failure as fail:
        raise Failure(f"{fail}{diagnose(weights, q, k, True)}") from None
