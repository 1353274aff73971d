"""Every requirement a task text states, with the public case that checks it (Questions 1 to 4 and 6).

A student should not meet a stated requirement for the first time in the hidden results. The table
quotes each requirement from its task cell and names the public case (``check("q…")``) that fails
when the requirement is not met; the mistake-specific tests of tests/test_checks_*.py show each of
those cases failing with a message that names the mistake. Requirements still checked only by
hidden cases would be listed in HIDDEN_ONLY, so a gap is visible; there are none: hidden cases only vary
the inputs of what the public cases check.
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT

from a5kit.checking import load_cases

HIDDEN = ROOT / "autograder" / "tests"

# (notebook, task cell id, words of the task text, question, the public case that checks it)
REQUIREMENTS: list[tuple[str, str, str, str, str | None]] = [
    (
        "01_self_attention",
        "q1a-task",
        "returns a tuple **`(weights, output)`**",
        "q1a",
        "matches_softmax_of_scaled_scores_without_mask",
    ),
    (
        "01_self_attention",
        "q1a-task",
        "work on the last two axes only",
        "q1a",
        "rows_sum_to_one_also_for_batched_inputs_and_large_scores",
    ),
    (
        "01_self_attention",
        "q1a-task",
        "each row summing to 1",
        "q1a",
        "rows_sum_to_one_also_for_batched_inputs_and_large_scores",
    ),
    ("01_self_attention", "q1a-task", "i.e. `weights @ v`", "q1a", "matches_softmax_of_scaled_scores_without_mask"),
    (
        "01_self_attention",
        "q1a-task",
        "`causal=True`: `weights[..., i, j] == 0` for every `j > i`",
        "q1a",
        "causal_mask_zeroes_the_upper_triangle",
    ),
    (
        "01_self_attention",
        "q1a-task",
        "`causal=False`: no mask",
        "q1a",
        "matches_softmax_of_scaled_scores_without_mask",
    ),
    (
        "01_self_attention",
        "q1a-task",
        "subtract each row's maximum score before `np.exp`",
        "q1a",
        "rows_sum_to_one_also_for_batched_inputs_and_large_scores",
    ),
    ("01_self_attention", "q1b-task", "`attentions[layer, head]`", "q1b", "attention_matrix_picks_the_layer_and_head"),
    (
        "01_self_attention",
        "q1b-task",
        "raise an `IndexError` whose message says *which* argument is out of range",
        "q1b",
        "attention_matrix_picks_the_layer_and_head",
    ),
    (
        "01_self_attention",
        "q1b-task",
        "keys along the x axis and queries along the y axis",
        "q1b",
        "heatmap_shows_the_matrix_queries_as_rows",
    ),
    (
        "01_self_attention",
        "q1b-task",
        "every tick labelled with its token, on both axes",
        "q1b",
        "tick_labels_are_the_tokens",
    ),
    (
        "01_self_attention",
        "q1b-task",
        "`title`, when given, as the Axes title",
        "q1b",
        "title_argument_becomes_the_axes_title",
    ),
    ("01_self_attention", "q1d-task", "averaged over the heads", "q1d", "mean_over_heads_from_query_to_key_per_layer"),
    (
        "01_self_attention",
        "q1d-task",
        "comparing case-insensitively after removing the `Ġ` marker",
        "q1d",
        "mean_over_heads_from_query_to_key_per_layer",
    ),
    (
        "01_self_attention",
        "q1d-task",
        "use its first occurrence",
        "q1d",
        "a_repeated_word_counts_at_its_first_occurrence",
    ),
    (
        "01_self_attention",
        "q1d-task",
        "raise a `ValueError` whose message names the word",
        "q1d",
        "a_word_that_is_not_a_token_raises_value_error_naming_it",
    ),
    ("02_dna_cnn", "q2a-task", "lowercase letters are accepted", "q2a", "lowercase_letters_mean_the_same_bases"),
    ("02_dna_cnn", "q2a-task", "**numpy array of dtype `float32`", "q2a", "returns_float32"),
    (
        "02_dna_cnn",
        "q2a-task",
        "the columns are **A, C, G, T** in that order",
        "q2a",
        "returns_length_by_4_in_acgt_column_order",
    ),
    ("02_dna_cnn", "q2a-task", "`N` (an unknown base) becomes a row of zeros", "q2a", "n_becomes_a_row_of_zeros"),
    (
        "02_dna_cnn",
        "q2a-task",
        "Any other character raises `ValueError` whose message names the character",
        "q2a",
        "another_letter_raises_value_error_naming_it_and_its_position",
    ),
    ("02_dna_cnn", "q2b-task", "tick labels `A`, `C`, `G`, `T`", "q2b", "y_tick_labels_are_the_bases_a_c_g_t"),
    ("02_dna_cnn", "q2b-task", "the image shows `encoded.T`, shape `(4, L)`", "q2b", "image_is_bases_by_positions"),
    ("02_dna_cnn", "q2b-task", '(label it "Position")', "q2b", "x_axis_is_labelled_position"),
    (
        "02_dna_cnn",
        "q3a-task",
        "a feature that never varies becomes 0, never NaN",
        "q3a",
        "pca_2d_standardises_and_keeps_constant_features_finite",
    ),
    (
        "02_dna_cnn",
        "q3a-task",
        "**standardise** every feature",
        "q3a",
        "pca_2d_standardises_and_keeps_constant_features_finite",
    ),
    (
        "02_dna_cnn",
        "q3a-task",
        "(column 0 = the component with the most variance)",
        "q3a",
        "pca_2d_standardises_and_keeps_constant_features_finite",
    ),
    ("02_dna_cnn", "q3a-task", "a **legend** with one entry per TF", "q3a", "plot_pca_has_a_legend_with_the_five_tfs"),
    ("02_dna_cnn", "q3a-task", "with one colour per TF", "q3a", "plot_pca_gives_each_tf_its_own_colour"),
    (
        "02_dna_cnn",
        "q3b-task",
        "a list of `epochs` floats: the **mean training loss of each epoch**",
        "q3b",
        "train_cnn_returns_model_and_one_loss_per_epoch",
    ),
    (
        "02_dna_cnn",
        "q3b-task",
        "two calls with the same seed give the same losses",
        "q3b",
        "same_seed_gives_identical_losses",
    ),
    ("02_dna_cnn", "q3b-task", "another seed gives another run", "q3b", "another_seed_gives_other_losses"),
    (
        "02_dna_cnn",
        "q3b-task",
        "clear the gradients before each `loss.backward()` (`optimizer.zero_grad()`)",
        "q3b",
        "gradients_are_cleared_before_each_backward",
    ),
    (
        "02_dna_cnn",
        "q3c-task",
        "**integer numpy array of shape `(N,)`**",
        "q3c",
        "predict_tfs_returns_integer_class_indices",
    ),
    ("02_dna_cnn", "q3c-task", "The visible check asks for at least", "q3c", "validation_accuracy_above_public_bar"),
    (
        "03_enformer",
        "q4a-task",
        "Return a tuple of three ints `(highest_mean, lowest_mean, highest_peak)`",
        "q4a",
        "returns_three_track_indices",
    ),
    ("03_enformer", "q4a-task", "the track with the **highest mean over the bins**", "q4a", "finds_planted_extremes"),
    ("03_enformer", "q4a-task", "**highest single-bin value**", "q4a", "finds_planted_extremes"),
    (
        "03_enformer",
        "q4a-task",
        "bin `i` at `x = start + 128 * i`",
        "q4a",
        "plot_track_draws_bins_at_genomic_positions_with_a_title",
    ),
    (
        "03_enformer",
        "q4a-task",
        "Put `description` in the title and the chromosome in the x-axis label",
        "q4a",
        "plot_track_draws_bins_at_genomic_positions_with_a_title",
    ),
    (
        "03_enformer",
        "q4b-task",
        "**one row per position** and columns A, C, G, T",
        "q4b",
        "logo_matrix_is_positions_by_acgt",
    ),
    (
        "03_enformer",
        "q4c-task",
        "**largest sum of absolute weights**",
        "q4c",
        "strongest_filter_returns_the_largest_total_absolute_weight",
    ),
    (
        "03_enformer",
        "q4c-task",
        "the best JASPAR match of the strongest filter",
        "q4c",
        "top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter",
    ),
    (
        "03_enformer",
        "q4d-task",
        "whose **best ungapped alignment score** with the motif is highest",
        "q4d",
        "closest_filter_finds_a_planted_forward_match",
    ),
    ("03_enformer", "q4d-task", "keep the **best offset**", "q4d", "closest_filter_keeps_the_best_offset"),
    (
        "03_enformer",
        "q4d-task",
        "do the same for the **reverse complement** of the motif",
        "q4d",
        "closest_filter_finds_a_match_on_the_reverse_strand",
    ),
    (
        "03_enformer",
        "q6-intro",
        "the variant's **1-based** position",
        "q6",
        "apply_variant_changes_the_base_at_the_1_based_position",
    ),
    (
        "03_enformer",
        "q6-intro",
        "**raise `ValueError`** if not",
        "q6",
        "apply_variant_raises_value_error_when_the_reference_base_differs",
    ),
    ("03_enformer", "q6-intro", "(A↔T, C↔G, N stays N, reversed)", "q6", "reverse_complement_of_a_short_sequence"),
    (
        "03_enformer",
        "q6-intro",
        "sum over the given bins of (alt − ref)",
        "q6",
        "variant_effect_sums_alt_minus_ref_over_the_bins",
    ),
]

# Stated requirements that only hidden cases check: none. Each requirement's points are split between
# its public case and a hidden case on other inputs; keep this empty.
HIDDEN_ONLY: set[tuple[str, str]] = set()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def task_texts() -> dict[tuple[str, str], str]:
    texts = {}
    for notebook in {row[0] for row in REQUIREMENTS}:
        for cell in nbformat.read(ROOT / "solutions" / f"{notebook}.ipynb", as_version=4).cells:
            texts[(notebook, cell.get("id", ""))] = _flat(cell.source)
    return texts


@pytest.mark.parametrize(
    "notebook, cell, words, question, case", REQUIREMENTS, ids=[f"{r[3]}: {r[2][:40]}" for r in REQUIREMENTS]
)
def test_each_stated_requirement_is_quoted_from_its_task_and_has_a_public_case(
    task_texts, notebook, cell, words, question, case
):
    assert _flat(words) in task_texts[(notebook, cell)], f"the task text of {question} changed: update this table"
    if case is None:
        assert (question, words) in HIDDEN_ONLY
        return
    cases = {c.func.__name__: c for c in load_cases(question, HIDDEN)}
    assert case in cases and not cases[case].hidden, f"{case} is not a public case of {question}"


def test_requirements_without_a_public_case_are_the_known_hidden_only_ones():
    assert {(q, words) for _, _, words, q, case in REQUIREMENTS if case is None} == HIDDEN_ONLY


def test_every_public_case_of_questions_1_to_4_and_6_covers_a_stated_requirement():
    covering = {(q, case) for *_, q, case in REQUIREMENTS if case}
    questions = sorted({q for *_, q, _ in REQUIREMENTS})
    public = {(q, c.func.__name__) for q in questions for c in load_cases(q, HIDDEN) if not c.hidden}
    assert public - covering == set()
