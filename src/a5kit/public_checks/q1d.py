"""q1d: attention from one word to another, per layer -- public checks.

``attention_between(tokens, attentions, query_word, key_word)`` returns an array (layers,): the
attention from the query word's token to the key word's token, averaged over heads. Words match
a token after stripping GPT-2's ``Ġ`` space marker, case-insensitively; the first occurrence
counts; a word that is not a token raises ValueError naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.submission import StudentError
from a5kit.public_checks import stored

TOKENS = ["The", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġmat", "."]
SHAPE = (5, 3, 7, 7)  # 5 layers, 3 heads: averaging over the wrong axis shows in the shape


def token_index(tokens: Sequence[str], word: str) -> int:
    target = word.replace("Ġ", "").strip().lower()
    for i, token in enumerate(tokens):
        if token.replace("Ġ", "").strip().lower() == target:
            return i
    raise ValueError(f"{word!r} is not a token of {list(tokens)}")


def synthetic_attentions(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Attention-like rows (summing to 1), not causal, so both directions between two words differ."""
    raw = np.random.default_rng(seed).random(shape)
    return raw / raw.sum(axis=-1, keepdims=True)


MISTAKES: dict[str, str] = {
    "reversed": "the direction is reversed: rows are queries, columns keys, so use attentions[:, :, query, key]",
    "summed": "summed over heads instead of averaged",
    "max": "the maximum over heads instead of the mean",
    "head0": "only head 0 instead of the mean over heads",
    "layers_reversed": "the layers are in reverse order",
    "mean_over_layers": "averaged over the layers instead of the heads: average axis 1 of (layers, heads, n, n)",
    "last_occurrence": "a word that occurs more than once counts at its first occurrence; this is the value at its last",
}


def check_between(
    sub,
    tokens: Sequence[str],
    attentions: np.ndarray,
    query_word: str,
    key_word: str,
    expected: dict[str, Any],
    what: str,
) -> None:
    """The student's value equals ``expected["value"]``; a failure names the likely mistake (``expected["mistakes"]``)."""
    call = f"attention_between({what}, {query_word!r}, {key_word!r})"
    try:
        got = sub.call("attention_between", list(tokens), attentions, query_word, key_word)
    except StudentError as err:
        if isinstance(err.error, ValueError):
            found = " and ".join(
                f"{w!r} is token {token_index(tokens, w)} ({tokens[token_index(tokens, w)]!r})"
                for w in (query_word, key_word)
            )
            raise Failure(
                f"{call} raised ValueError ({err.error}), but {found}: "
                "match words case-insensitively after removing the Ġ space marker"
            ) from None
        raise
    n_layers, n_heads = attentions.shape[:2]
    arr = expect.array(got, call, None)
    if arr.shape != (n_layers,):
        hint = ""
        if arr.shape == (n_heads,):
            hint = (
                ": averaged over the layers instead of the heads? (attentions is (layers, heads, n, n); average axis 1)"
            )
        elif arr.shape == (n_layers, n_heads):
            hint = ": average over the heads (axis 1)"
        elif arr.shape == ():
            hint = ": one value per layer is needed, not a single number"
        raise Failure(f"{call}: expected shape ({n_layers},), one value per layer, got {tuple(arr.shape)}{hint}")
    want = np.asarray(expected["value"], dtype=np.float64)
    if np.allclose(arr, want, atol=1e-6, rtol=1e-5):
        return
    qi, ki = token_index(tokens, query_word), token_index(tokens, key_word)
    hint = next(
        (
            f" ({MISTAKES[name]})"
            for name, wrong in expected["mistakes"].items()
            if wrong.shape == arr.shape and np.allclose(arr, wrong, atol=1e-6, rtol=1e-5)
        ),
        "",
    )
    if not hint:
        for label, words in (("query", query_word), ("key", key_word)):
            positions = [i for i, t in enumerate(tokens) if t.replace("Ġ", "").strip().lower() == words.lower()]
            if len(positions) > 1:
                hint = f" (the {label} word {words!r} occurs at positions {positions}: use the first)"
    i = int(np.argmax(np.abs(arr - want)))
    raise Failure(
        f"{call}: layer {i} is {arr[i]:.6g}, expected {want[i]:.6g} (mean over heads of attentions[{i}, :, {qi}, {ki}]){hint}"
    )


# Their answers are stored. "MAT" for "Ġmat": words match case-insensitively, without the Ġ marker.
PUBLIC_PAIRS: dict[str, tuple[str, str]] = {"mat_cat": ("MAT", "cat"), "sat_on": ("sat", "on")}


# "the" is token 0 ("The") and token 4 ("Ġthe"): the first occurrence counts. Its answer is stored.
REPEATED_PAIRS: dict[str, tuple[str, str]] = {"the_sat": ("the", "sat")}
# "dog" is not a token of TOKENS: attention_between must raise ValueError naming it.
MISSING_WORD: tuple[str, str, str] = ("cat", "dog", "dog")  # query word, key word, the missing one


def check_missing_word(
    sub, tokens: Sequence[str], attentions: np.ndarray, query_word: str, key_word: str, missing: str, what: str
) -> None:
    """attention_between(...) raises ValueError whose message names ``missing``, a word that is not a token."""
    call = f"attention_between({what}, {query_word!r}, {key_word!r})"
    text = expect.raised(
        sub,
        "attention_between",
        (list(tokens), attentions, query_word, key_word),
        ValueError,
        call,
        f"ValueError naming {missing!r}, which is not a token",
        f"ValueError: {missing!r} is not one of the tokens {list(tokens)}",
    )
    if missing.lower() not in text.lower():
        raise Failure(f"{call}: the ValueError should name the missing word {missing!r}; it says {text!r}")


def public_attentions() -> np.ndarray:
    """The attentions of the public case (synthetic, seed 1)."""
    return synthetic_attentions(1)


def stored_expected(name: str) -> dict[str, Any]:
    return {"value": stored.value(f"q1d.{name}.value"), "mistakes": stored.mistakes(f"q1d.{name}")}


@case(points=0.75)
def mean_over_heads_from_query_to_key_per_layer(sub):
    attentions = public_attentions()
    what = f"tokens {TOKENS}, attentions {SHAPE}"
    for name, (query_word, key_word) in PUBLIC_PAIRS.items():
        check_between(sub, TOKENS, attentions, query_word, key_word, stored_expected(name), what)


@case(points=0.25)
def a_repeated_word_counts_at_its_first_occurrence(sub):
    what = f"tokens {TOKENS}, attentions {SHAPE}"
    for name, (query_word, key_word) in REPEATED_PAIRS.items():
        check_between(sub, TOKENS, public_attentions(), query_word, key_word, stored_expected(name), what)


@case(points=0.25)
def a_word_that_is_not_a_token_raises_value_error_naming_it(sub):
    query_word, key_word, missing = MISSING_WORD
    check_missing_word(
        sub, TOKENS, public_attentions(), query_word, key_word, missing, f"tokens {TOKENS}, attentions {SHAPE}"
    )
