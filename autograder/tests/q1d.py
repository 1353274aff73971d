"""q1d: attention from one word to another, per layer -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit import models
from a5kit.checks.q1d import TOKENS, check_between, synthetic_attentions
from a5kit.checking import Failure, case
from a5kit.checking.submission import StudentError
from a5kit.inputs import ACTIVE_SENTENCE, PASSIVE_SENTENCE
from a5kit_reference import between_expected

PAIRS = {
    ACTIVE_SENTENCE: [("dog", "fox"), ("jumps", "fox"), ("dog", "lazy"), ("over", "jumps")],
    PASSIVE_SENTENCE: [("fox", "dog"), ("jumped", "dog"), ("fox", "brown"), ("by", "jumped")],
}


@case(points=1)
def gpt2_word_pairs_in_both_sentences(sub):
    for sentence, pairs in PAIRS.items():
        tokens, attentions = models.gpt2_attentions(sentence)
        for query_word, key_word in pairs:
            check_between(sub, tokens, attentions, query_word, key_word, between_expected(tokens, attentions, query_word, key_word), f"GPT-2 on {sentence!r}")


@case(points=0.5)
def words_match_case_insensitively_without_the_space_marker(sub):
    tokens, attentions = models.gpt2_attentions(ACTIVE_SENTENCE)
    check_between(sub, tokens, attentions, "Dog", "QUICK", between_expected(tokens, attentions, "Dog", "QUICK"), f"GPT-2 on {ACTIVE_SENTENCE!r}")
    synthetic = synthetic_attentions(2)
    check_between(sub, TOKENS, synthetic, "MAT", "the", between_expected(TOKENS, synthetic, "MAT", "the"), f"tokens {TOKENS}")


def _expect_value_error(sub, query_word: str, key_word: str, missing: str) -> None:
    call = f"attention_between(tokens of {ACTIVE_SENTENCE!r}, attentions, {query_word!r}, {key_word!r})"
    tokens, attentions = models.gpt2_attentions(ACTIVE_SENTENCE)
    try:
        sub.call("attention_between", tokens, attentions, query_word, key_word)
    except StudentError as err:
        if isinstance(err.error, NotImplementedError):
            raise
        if not isinstance(err.error, ValueError):
            raise Failure(f"{call} raised {type(err.error).__name__}; expected ValueError naming {missing!r}") from None
        if missing.lower() not in str(err.error).lower():
            raise Failure(f"{call}: the ValueError should name the missing word {missing!r}; it says {str(err.error)!r}") from None
        return
    raise Failure(f"{call} returned; expected ValueError: {missing!r} is not a token of the sentence")


@case(points=0.5)
def a_word_not_in_the_sentence_raises_value_error_naming_it(sub):
    _expect_value_error(sub, "cat", "fox", "cat")
    _expect_value_error(sub, "dog", "zebra", "zebra")
