"""The checks of notebook 1 (GPT-2 self-attention) grade what they claim to: a correct answer gets
every point of q1a, q1b and q1d (public and hidden cases); each typical mistake loses the case
that tests for it, with a message that names the mistake; a missing function costs only its cases."""

from __future__ import annotations

import json
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from conftest import ROOT
from notebook_checks import grade

from a5kit import nbmeta
from a5kit.checking import load_cases

HIDDEN = ROOT / "autograder" / "tests"
NOTEBOOK = ROOT / "solutions" / "01_self_attention.ipynb"
pytestmark = pytest.mark.usefixtures(
    "public_cases_replay_alike"
)  # the notebook and the autograder give the same points
QUESTIONS = tuple(nbmeta.autograded_questions(NOTEBOOK))  # its grade cells: a new question needs no edit here
ROWS = "rows sum to one also for batched inputs and large scores"  # q1a's public case for both


# -- a correct submission -------------------------------------------------------------------


def scaled_dot_product_attention(q, k, v, causal=True, *, scale=True, axis=-1, stable=True, transpose=np.swapaxes):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    kt = transpose(k, -1, -2) if transpose is np.swapaxes else k.T
    scores = q @ kt / (np.sqrt(q.shape[-1]) if scale else 1.0)
    if causal:
        scores = np.where(np.triu(np.ones(scores.shape[-2:], dtype=bool), k=1), -np.inf, scores)
    if stable:
        scores = scores - scores.max(axis=axis, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=axis, keepdims=True)
    return weights, weights @ v


def attention_matrix(attentions, layer, head):
    attentions = np.asarray(attentions)
    if not 0 <= layer < attentions.shape[0]:
        raise IndexError(f"layer {layer} out of range 0..{attentions.shape[0] - 1}")
    if not 0 <= head < attentions.shape[1]:
        raise IndexError(f"head {head} out of range 0..{attentions.shape[1] - 1}")
    return attentions[layer, head]


def plot_attention(matrix, tokens, ax=None, title=None, *, transpose=False, ticks=True):
    if ax is None:
        _, ax = plt.subplots()
    ax.imshow(np.asarray(matrix).T if transpose else matrix)
    if ticks:
        ax.set_xticks(range(len(tokens)), tokens, rotation=90)
        ax.set_yticks(range(len(tokens)), tokens)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_attention_seaborn(matrix, tokens, ax=None, title=None):
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots()
    sns.heatmap(matrix, ax=ax, xticklabels=tokens, yticklabels=tokens, vmin=0, vmax=1)
    if title is not None:
        ax.set_title(title)
    return ax


def _position(tokens, word, *, strip=True, lower=True):
    def norm(s):
        s = s.replace("Ġ", "") if strip else s
        return s.lower() if lower else s

    for i, token in enumerate(tokens):
        if norm(token) == norm(word):
            return i
    raise ValueError(f"{word!r} is not a token")


def attention_between(tokens, attentions, query_word, key_word, *, reduce=None, position=_position):
    i, j = position(tokens, query_word), position(tokens, key_word)
    pairs = np.asarray(attentions)[:, :, i, j]
    return pairs.mean(axis=1) if reduce is None else reduce(np.asarray(attentions), i, j)


CORRECT: dict[str, Callable] = {
    "scaled_dot_product_attention": scaled_dot_product_attention,
    "attention_matrix": attention_matrix,
    "plot_attention": plot_attention,
    "attention_between": attention_between,
}


def _grade(question: str, **functions) -> dict[str, object]:
    namespace = {**CORRECT, **functions}
    namespace = {k: v for k, v in namespace.items() if v is not None}
    return {r.name: r for r in grade(namespace, question).values()}


def _lost(results, case_name: str, *needles: str) -> None:
    result = results[case_name]
    assert result.score == 0, f"{case_name} should fail, got {result.score}: {result.output}"
    for needle in needles:
        assert needle in result.output, f"{case_name}: {needle!r} not in {result.output!r}"


def _passed(results, *case_names: str) -> None:
    for name in case_names:
        assert results[name].passed, f"{name}: {results[name].output}"


# -- full points ------------------------------------------------------------------------------


@pytest.mark.parametrize("question", QUESTIONS)
def test_correct_answers_get_every_point(tiny, question):
    results = _grade(question)
    assert any(r.hidden for r in results.values()) and any(not r.hidden for r in results.values())
    assert all(r.passed for r in results.values()), {n: r.output for n, r in results.items() if not r.passed}


def test_a_seaborn_heatmap_gets_the_plotting_points(tiny):
    results = _grade("q1b", plot_attention=plot_attention_seaborn)
    assert all(r.passed for r in results.values()), {n: r.output for n, r in results.items() if not r.passed}


def test_grade_cells_are_worth_their_cases_and_public_checks_are_a_minority():
    nb = json.loads(NOTEBOOK.read_text())
    grade_cells = nbmeta.graded_points(nb, autograded=True)
    assert set(grade_cells) == set(QUESTIONS)
    for question in QUESTIONS:
        cases = load_cases(question, HIDDEN)
        assert grade_cells[question] == pytest.approx(sum(c.points for c in cases)), question
        public = sum(c.points for c in cases if not c.hidden)
        assert 0 < public < grade_cells[question] / 2, question
        assert f'grade("{question}")' in nbmeta.source(nbmeta.find(nb, question))


# -- q1a: scaled dot-product attention -------------------------------------------------------


def test_missing_scale_loses_the_reference_case_and_the_gpt2_case(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, causal, scale=False)
    results = _grade("q1a", scaled_dot_product_attention=wrong)
    _lost(results, "matches softmax of scaled scores without mask", "not divided by sqrt(d_k)")
    # tiny GPT-2 is non-uniform enough that the missing scale shows on the model's own attention
    _lost(results, "reproduces gpt2 layer0 attention for all 12 heads", "not divided by sqrt(d_k)")
    _passed(results, "causal mask zeroes the upper triangle", ROWS)


def test_missing_causal_mask_loses_the_mask_case(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, False)
    results = _grade("q1a", scaled_dot_product_attention=wrong)
    _lost(results, "causal mask zeroes the upper triangle", "causal mask is missing")
    _lost(results, "reproduces gpt2 layer0 attention for all 12 heads", "causal mask is missing")
    _passed(results, "matches softmax of scaled scores without mask", ROWS)


def test_softmax_over_the_wrong_axis_loses_the_row_sum_case(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, causal, axis=-2)
    results = _grade("q1a", scaled_dot_product_attention=wrong)
    _lost(results, ROWS, "wrong axis")
    _lost(results, "matches softmax of scaled scores without mask", "wrong axis")


def test_naive_exp_overflows_on_large_logits_and_loses_the_stability_cases_public_and_hidden(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, causal, stable=False)
    with np.errstate(over="ignore", invalid="ignore"):
        results = _grade("q1a", scaled_dot_product_attention=wrong)
    _lost(results, "large logits are numerically stable", "overflow", "row's maximum")
    _lost(results, ROWS, "overflow", "row's maximum")
    assert {n for n, r in results.items() if not r.passed} == {"large logits are numerically stable", ROWS}


def test_k_dot_T_fails_only_on_batched_inputs_public_and_hidden_and_says_swapaxes(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, causal, transpose=None)
    results = _grade("q1a", scaled_dot_product_attention=wrong)
    _lost(results, "batched inputs use the last two axes", "np.swapaxes(k, -1, -2)")
    _lost(results, ROWS, "np.swapaxes(k, -1, -2)")
    _passed(results, "matches softmax of scaled scores without mask", "large logits are numerically stable")


def test_returning_only_the_weights_is_reported(tiny):
    wrong = lambda q, k, v, causal=True: scaled_dot_product_attention(q, k, v, causal)[0]
    results = _grade("q1a", scaled_dot_product_attention=wrong)
    assert all(r.score == 0 for r in results.values())
    assert "must return a pair (weights, output)" in results[ROWS].output


def test_a_missing_function_costs_only_its_question(tiny):
    results = _grade("q1a", scaled_dot_product_attention=None)
    assert all(
        r.score == 0 and "no function named scaled_dot_product_attention()" in r.output for r in results.values()
    )
    assert all(r.passed for r in _grade("q1b", scaled_dot_product_attention=None).values())


# -- q1b: attention_matrix and plot_attention ------------------------------------------------


def test_transposed_heatmap_loses_the_image_cases(tiny):
    wrong = lambda matrix, tokens, ax=None, title=None: plot_attention(matrix, tokens, ax, title, transpose=True)
    results = _grade("q1b", plot_attention=wrong)
    _lost(results, "heatmap shows the matrix queries as rows", "transposed")
    _lost(results, "gpt2 heatmap of the passive sentence", "transposed")
    _passed(
        results,
        "tick labels are the tokens",
        "title argument sets the title",
        "attention matrix picks the layer and head",
    )


def test_missing_tick_labels_lose_the_tick_case(tiny):
    wrong = lambda matrix, tokens, ax=None, title=None: plot_attention(matrix, tokens, ax, title, ticks=False)
    results = _grade("q1b", plot_attention=wrong)
    _lost(results, "tick labels are the tokens", "tick labels do not show the tokens", "set_xticks")
    _passed(results, "heatmap shows the matrix queries as rows", "title argument sets the title")


def test_ignoring_the_title_loses_the_title_case(tiny):
    wrong = lambda matrix, tokens, ax=None, title=None: plot_attention(matrix, tokens, ax)
    results = _grade("q1b", plot_attention=wrong)
    _lost(results, "title argument becomes the axes title", "no title", "set_title")  # public
    _lost(results, "title argument sets the title", "set_title")  # hidden, another title
    assert {n for n, r in results.items() if not r.passed} == {
        "title argument becomes the axes title",
        "title argument sets the title",
    }


def test_a_changed_title_is_told_to_use_the_argument_as_given(tiny):
    wrong = lambda matrix, tokens, ax=None, title=None: plot_attention(matrix, tokens, ax, f"Attention: {title}")
    results = _grade("q1b", plot_attention=wrong)
    _lost(results, "title argument becomes the axes title", "'Attention: layer 2, head 1', expected 'layer 2, head 1'")


def test_one_based_layer_index_loses_the_picking_cases(tiny):
    wrong = lambda attentions, layer, head: np.asarray(attentions)[layer - 1, head]
    results = _grade("q1b", attention_matrix=wrong)
    _lost(results, "attention matrix picks the layer and head", "off by one", "numbered from 0")
    _lost(results, "gpt2 matrices for every layer and head", "off by one")
    _passed(results, "heatmap shows the matrix queries as rows", "tick labels are the tokens")


def test_swapped_layer_and_head_are_named(tiny):
    wrong = lambda attentions, layer, head: np.asarray(attentions)[head, layer]
    results = _grade("q1b", attention_matrix=wrong)
    _lost(results, "attention matrix picks the layer and head", "layer and head are swapped")


def test_numpys_own_index_error_does_not_name_the_argument(tiny):
    wrong = lambda attentions, layer, head: np.asarray(attentions)[layer, head]
    results = _grade("q1b", attention_matrix=wrong)
    _lost(
        results, "layer out of range raises index error naming the layer", "should say that the layer is out of range"
    )
    _lost(results, "head out of range raises index error naming the head", "should say that the head is out of range")
    _lost(
        results, "attention matrix picks the layer and head", "should say that the layer is out of range"
    )  # public, too
    _passed(results, "gpt2 matrices for every layer and head")


def test_missing_plot_function_costs_only_the_plot_cases(tiny):
    results = _grade("q1b", plot_attention=None)
    lost = {n for n, r in results.items() if not r.passed}
    assert lost == {
        "heatmap shows the matrix queries as rows",
        "tick labels are the tokens",
        "title argument becomes the axes title",
        "title argument sets the title",
        "gpt2 heatmap of the passive sentence",
    }
    assert all("no function named plot_attention()" in results[n].output for n in lost)
    assert sum(r.score for r in results.values()) == sum(r.max_score for n, r in results.items() if n not in lost) == 2


def test_checks_close_the_figures_they_make_the_student_draw(tiny):
    plt.close("all")
    _grade("q1b")
    assert plt.get_fignums() == []


# -- q1d: attention_between -------------------------------------------------------------------


def test_reversed_direction_is_named(tiny):
    wrong = lambda tokens, attentions, q, k: attention_between(tokens, attentions, k, q)
    results = _grade("q1d", attention_between=wrong)
    _lost(results, "mean over heads from query to key per layer", "direction is reversed")
    _lost(results, "gpt2 word pairs in both sentences")


def test_sum_over_heads_is_named(tiny):
    wrong = lambda tokens, att, q, k: attention_between(tokens, att, q, k, reduce=lambda a, i, j: a[:, :, i, j].sum(1))
    _lost(_grade("q1d", attention_between=wrong), "mean over heads from query to key per layer", "summed over heads")


def test_mean_over_layers_is_named_by_the_shape(tiny):
    wrong = lambda tokens, att, q, k: attention_between(tokens, att, q, k, reduce=lambda a, i, j: a[:, :, i, j].mean(0))
    _lost(
        _grade("q1d", attention_between=wrong),
        "mean over heads from query to key per layer",
        "averaged over the layers instead of the heads",
    )


def test_case_sensitive_matching_loses_the_case_insensitive_case(tiny):
    position = lambda tokens, word: _position(tokens, word, lower=False)
    wrong = lambda tokens, att, q, k: attention_between(tokens, att, q, k, position=position)
    results = _grade("q1d", attention_between=wrong)
    _lost(results, "words match case insensitively without the space marker", "case-insensitively")
    _lost(
        results, "mean over heads from query to key per layer", "case-insensitively"
    )  # the public case asks for "MAT"
    _passed(results, "gpt2 word pairs in both sentences")


def test_keeping_the_space_marker_is_named(tiny):
    position = lambda tokens, word: _position(tokens, word, strip=False)
    wrong = lambda tokens, att, q, k: attention_between(tokens, att, q, k, position=position)
    results = _grade("q1d", attention_between=wrong)
    _lost(results, "mean over heads from query to key per layer", "removing the Ġ space marker")


def test_absent_word_must_raise_value_error_naming_it(tiny):
    def wrong(tokens, attentions, query_word, key_word):
        words = [t.replace("Ġ", "").lower() for t in tokens]
        i, j = words.index(query_word.lower()), words.index(key_word.lower())  # list.index: "'cat' is not in list"
        return np.asarray(attentions)[:, :, i, j].mean(1)

    results = _grade("q1d", attention_between=wrong)
    _passed(results, "mean over heads from query to key per layer", "gpt2 word pairs in both sentences")
    assert results["a word not in the sentence raises value error naming it"].passed  # list.index's message names it
    assert results["a word that is not a token raises value error naming it"].passed  # public, too

    def silent(tokens, attentions, query_word, key_word):
        words = [t.replace("Ġ", "").lower() for t in tokens]
        if query_word.lower() not in words or key_word.lower() not in words:
            return np.zeros(np.asarray(attentions).shape[0])
        return attention_between(tokens, attentions, query_word, key_word)

    results = _grade("q1d", attention_between=silent)
    _lost(results, "a word not in the sentence raises value error naming it", "expected ValueError")
    _lost(
        results,
        "a word that is not a token raises value error naming it",
        "expected ValueError",
        "'dog' is not one of the tokens",
    )  # public

    def key_error(tokens, attentions, query_word, key_word):
        index = {t.replace("Ġ", "").lower(): i for i, t in reversed(list(enumerate(tokens)))}
        return np.asarray(attentions)[:, :, index[query_word.lower()], index[key_word.lower()]].mean(1)  # KeyError

    _lost(
        _grade("q1d", attention_between=key_error),
        "a word that is not a token raises value error naming it",
        "raised KeyError; expected ValueError naming 'dog'",
    )


def test_the_last_occurrence_of_a_repeated_word_is_named_in_a_public_check(tiny):
    def last(tokens, word):
        return max(i for i, t in enumerate(tokens) if t.replace("Ġ", "").lower() == word.lower())

    wrong = lambda tokens, att, q, k: attention_between(tokens, att, q, k, position=last)
    results = _grade("q1d", attention_between=wrong)
    _lost(
        results,
        "a repeated word counts at its first occurrence",
        "counts at its first occurrence; this is the value at its last",
    )
    _lost(
        results, "words match case insensitively without the space marker", "first occurrence"
    )  # hidden: "the" on GPT-2 and as a key
    _passed(results, "mean over heads from query to key per layer")
