"""q1a: scaled dot-product attention -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np
from a5kit_reference import attention_expected, attention_mistakes

from a5kit import models
from a5kit.checking import Failure, case, expect
from a5kit.inputs import ACTIVE_SENTENCE
from a5kit.public_checks.q1a import (
    batched_hint,
    call_attention,
    check_attention,
    check_large_scores,
    diagnose,
    random_qkv,
)


@case(points=0.5)
def batched_inputs_use_the_last_two_axes(sub):
    q, k, v = random_qkv(11, lead=(2, 3), n=5, d_k=4, d_v=3)
    with batched_hint():
        check_attention(
            sub,
            q,
            k,
            v,
            True,
            attention_expected(q, k, v, True),
            what="batched q, k (2, 3, 5, 4), v (2, 3, 5, 3), causal=True",
        )


@case(points=1)
def large_logits_are_numerically_stable(sub):
    # scores of order 1e3-1e4: exp() overflows to inf unless the row maximum is subtracted first
    q, k, v = random_qkv(12, n=6, d_k=8, d_v=4, scale=60.0)
    for causal in (True, False):
        check_large_scores(sub, q, k, v, causal, attention_expected(q, k, v, causal))


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
        raise Failure(f"{fail}{diagnose(weights, attention_mistakes(q, k, True), True)}") from None
