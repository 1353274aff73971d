"""q1b: one head's attention matrix and its heatmap -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit import models
from a5kit.checking import case
from a5kit.inputs import PASSIVE_SENTENCE
from a5kit.public_checks.q1b import (
    TOKENS,
    check_image_is_matrix,
    check_matrix_choice,
    check_out_of_range,
    check_tick_labels,
    check_title,
    closing_new_figures,
    synthetic_attentions,
)


def _expect_index_error(sub, layer: int, head: int, argument: str) -> None:
    check_out_of_range(sub, synthetic_attentions(4), layer, head, argument)  # 3 layers, 4 heads


@case(points=0.5)
def layer_out_of_range_raises_index_error_naming_the_layer(sub):
    _expect_index_error(sub, 3, 0, "layer")


@case(points=0.5)
def head_out_of_range_raises_index_error_naming_the_head(sub):
    _expect_index_error(sub, 0, 4, "head")


@case(points=0.25)
def title_argument_sets_the_title(sub):
    matrix = synthetic_attentions(5)[1, 1]
    with closing_new_figures():
        ax = sub.call("plot_attention", matrix, TOKENS, title="layer 1, head 1")
    check_title(ax, "layer 1, head 1", "plot_attention(matrix, tokens, title='layer 1, head 1')")


@case(points=0.5)
def gpt2_matrices_for_every_layer_and_head(sub):
    _, attentions = models.gpt2_attentions(PASSIVE_SENTENCE)
    for layer in range(attentions.shape[0]):
        for head in range(attentions.shape[1]):
            check_matrix_choice(sub.call("attention_matrix", attentions, layer, head), attentions, layer, head)


@case(points=0.5)
def gpt2_heatmap_of_the_passive_sentence(sub):
    tokens, attentions = models.gpt2_attentions(PASSIVE_SENTENCE)
    matrix = attentions[11, 3]
    with closing_new_figures():
        ax = sub.call("plot_attention", matrix, tokens, title="layer 11, head 3")
    what = "plot_attention(attentions[11, 3] of the passive sentence, its 12 tokens)"
    check_image_is_matrix(ax, matrix, what)
    check_tick_labels(ax, tokens, what)
