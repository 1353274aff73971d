"""q1d: attention from one word to another, per layer -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit_reference import between_expected

from a5kit import models
from a5kit.checking import case
from a5kit.inputs import ACTIVE_SENTENCE, PASSIVE_SENTENCE
from a5kit.public_checks.q1d import TOKENS, check_between, check_missing_word, synthetic_attentions

PAIRS = {
    ACTIVE_SENTENCE: [("dog", "fox"), ("jumps", "fox"), ("dog", "lazy"), ("over", "jumps")],
    PASSIVE_SENTENCE: [("fox", "dog"), ("jumped", "dog"), ("fox", "brown"), ("by", "jumped")],
}


@case(points=1.25)
def gpt2_word_pairs_in_both_sentences(sub):
    for sentence, pairs in PAIRS.items():
        tokens, attentions = models.gpt2_attentions(sentence)
        for query_word, key_word in pairs:
            check_between(
                sub,
                tokens,
                attentions,
                query_word,
                key_word,
                between_expected(tokens, attentions, query_word, key_word),
                f"GPT-2 on {sentence!r}",
            )


@case(points=0.25)
def words_match_case_insensitively_without_the_space_marker(sub):
    tokens, attentions = models.gpt2_attentions(ACTIVE_SENTENCE)
    for query_word, key_word in (("Dog", "QUICK"), ("dog", "the")):  # "the" occurs twice: the first counts
        check_between(
            sub,
            tokens,
            attentions,
            query_word,
            key_word,
            between_expected(tokens, attentions, query_word, key_word),
            f"GPT-2 on {ACTIVE_SENTENCE!r}",
        )
    synthetic = synthetic_attentions(2)
    check_between(
        sub, TOKENS, synthetic, "MAT", "the", between_expected(TOKENS, synthetic, "MAT", "the"), f"tokens {TOKENS}"
    )


def _expect_value_error(sub, query_word: str, key_word: str, missing: str) -> None:
    tokens, attentions = models.gpt2_attentions(ACTIVE_SENTENCE)
    check_missing_word(
        sub, tokens, attentions, query_word, key_word, missing, f"tokens of {ACTIVE_SENTENCE!r}, attentions"
    )


@case(points=0.25)
def a_word_not_in_the_sentence_raises_value_error_naming_it(sub):
    _expect_value_error(sub, "cat", "fox", "cat")
    _expect_value_error(sub, "dog", "zebra", "zebra")
