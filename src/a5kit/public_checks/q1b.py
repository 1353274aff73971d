"""q1b: one head's attention matrix and its heatmap -- public checks.

``attention_matrix(attentions, layer, head)`` returns ``attentions[layer, head]`` (0-based, an
IndexError naming the argument when out of range); ``plot_attention(matrix, tokens, ax=None,
title=None)`` draws it with keys on x and queries on y, tick labels the tokens, and returns the Axes.
Tests read the Axes summary (tick labels, image data), never pixels.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from a5kit.checking import Failure, case, expect

SHAPE = (3, 4, 5, 5)  # layers != heads, so a swap of the two cannot pass
TOKENS = ["The", "Ġcat", "Ġsat", "Ġdown", "."]


def synthetic_attentions(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Causal attention-like weights, every (layer, head) different: rows sum to 1, upper triangle 0."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    raw = rng.random(shape) * np.tril(np.ones((n, n)))
    return raw / raw.sum(axis=-1, keepdims=True)


@contextmanager
def closing_new_figures() -> Iterator[None]:
    """Close the figures a test makes the student's function draw, so they do not pile up under
    the check cell. Only touches pyplot when the notebook has already imported it."""
    plt = sys.modules.get("matplotlib.pyplot")
    before = set(plt.get_fignums()) if plt is not None else set()
    try:
        yield
    finally:
        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)


def check_matrix_choice(got: Any, attentions: np.ndarray, layer: int, head: int) -> None:
    """``got`` is attentions[layer, head]; a failure says which slice it is instead."""
    want = attentions[layer, head]
    what = f"attention_matrix(attentions of shape {attentions.shape}, layer={layer}, head={head})"
    arr = expect.array(got, what, want.shape)
    if np.allclose(arr, want, atol=1e-6):
        return
    hint = ""
    n_layers, n_heads = attentions.shape[:2]
    for lay in range(n_layers):
        for h in range(n_heads):
            if np.allclose(arr, attentions[lay, h], atol=1e-6):
                if (lay, h) == (head, layer):
                    hint = "layer and head are swapped: index attentions[layer, head]"
                elif (lay - layer) % n_layers in (1, n_layers - 1) or (h - head) % n_heads in (1, n_heads - 1):
                    hint = "off by one: layers and heads are numbered from 0 (layer 0 is the first; index -1 wraps around to the last)"
                else:
                    hint = "wrong layer or head index"
                hint = f"it is attentions[{lay}, {h}]: {hint}"
    if not hint and np.allclose(arr, want.T, atol=1e-6):
        hint = "it is the transpose: keep rows as queries and columns as keys"
    raise Failure(f"{what}: expected attentions[{layer}, {head}]" + (f"; {hint}" if hint else ""))


def check_out_of_range(sub, attentions: np.ndarray, layer: int, head: int, argument: str) -> None:
    """attention_matrix(attentions, layer, head) raises an IndexError whose message names ``argument`` ("layer" or "head")."""
    n_layers, n_heads = attentions.shape[:2]
    call = f"attention_matrix(attentions with {n_layers} layers and {n_heads} heads, layer={layer}, head={head})"
    text = expect.raised(
        sub,
        "attention_matrix",
        (attentions, layer, head),
        IndexError,
        call,
        "IndexError",
        f"IndexError saying the {argument} is out of range (layers and heads are 0-based)",
    )
    if argument not in text.lower():
        raise Failure(
            f"{call}: the IndexError should say that the {argument} is out of range (and the valid range); it says {text!r}"
        )


def heatmap(value: Any, what: str) -> tuple[dict[str, Any], list[np.ndarray]]:
    """The Axes summary and its images (imshow images, seaborn/pcolormesh meshes)."""
    summary = expect.axes(value, what)
    if not summary["images"]:
        raise Failure(
            f"{what}: no heatmap on the returned Axes: draw the matrix with ax.imshow(matrix) (or sns.heatmap(matrix, ax=ax))"
        )
    return summary, [np.asarray(im, dtype=float) for im in summary["images"]]


def check_image_is_matrix(value: Any, matrix: np.ndarray, what: str) -> None:
    _, images = heatmap(value, what)
    if any(im.shape == matrix.shape and np.allclose(im, matrix, atol=1e-6, equal_nan=True) for im in images):
        return
    if any(im.shape == matrix.shape and np.allclose(im, matrix.T, atol=1e-6) for im in images):
        raise Failure(
            f"{what}: the heatmap shows the transposed matrix: queries must be the rows (y axis) and keys the "
            f"columns (x axis); draw matrix, not matrix.T"
        )
    if any(im.shape == matrix.shape and np.allclose(im, matrix[::-1], atol=1e-6) for im in images):
        raise Failure(f"{what}: the heatmap is upside down: draw matrix as it is, with the first query on the top row")
    shapes = ", ".join(str(im.shape) for im in images)
    raise Failure(
        f"{what}: no heatmap shows the matrix (shape {matrix.shape}); the Axes holds image(s) of shape {shapes}"
    )


def _norm(label: str) -> str:
    return label.replace("Ġ", "").replace("▁", "").strip()


def check_tick_labels(value: Any, tokens: Sequence[str], what: str) -> None:
    summary = expect.axes(value, what)
    want = [_norm(t) for t in tokens]
    for axis, name, role in (("x", "xticklabels", "keys"), ("y", "yticklabels", "queries")):
        got = [str(t) for t in summary[name]]
        shown = [_norm(t) for t in got if t.strip()]
        if shown == want:
            continue
        if not shown:
            problem = "are missing"
        elif not set(shown) & set(want):
            problem = f"do not show the tokens (they are {got})"
        elif shown == want[::-1]:
            problem = f"are in reverse order ({got})"
        elif len(shown) != len(want):
            problem = f"are {got}: {len(shown)} labels for {len(want)} tokens"
        else:
            problem = f"are {got}"
        raise Failure(
            f"{what}: the {axis} tick labels {problem}; expected the {role}, one label per token: {list(tokens)}. "
            f"Set them with ax.set_{axis}ticks(range(len(tokens)), tokens) (or sns.heatmap(..., {axis}ticklabels=tokens))"
        )


def check_title(value: Any, title: str, what: str) -> None:
    """The Axes title is ``title`` (the ``title`` argument, as given)."""
    got = expect.axes(value, what)["title"]
    if got == title:
        return
    if not got:
        raise Failure(f"{what}: the Axes has no title; when title is given, set it with ax.set_title(title)")
    raise Failure(
        f"{what}: the Axes title is {got!r}, expected {title!r}: use the title argument as it is, ax.set_title(title)"
    )


# -- cases ------------------------------------------------------------------------------


@case(points=0.5)
def attention_matrix_picks_the_layer_and_head(sub):
    attentions = synthetic_attentions(1)
    for layer, head in ((1, 2), (0, 0), (2, 3)):
        check_matrix_choice(sub.call("attention_matrix", attentions, layer, head), attentions, layer, head)
    check_out_of_range(sub, attentions, SHAPE[0], 0, "layer")  # one past the last layer: an IndexError that says so


def _plot_synthetic(sub, seed: int):
    """(matrix, the student's Axes summary) for a synthetic attention matrix; closes the figure."""
    matrix = synthetic_attentions(seed)[0, 0]
    with closing_new_figures():
        return matrix, sub.call("plot_attention", matrix, TOKENS)


@case(points=0.5)
def heatmap_shows_the_matrix_queries_as_rows(sub):
    matrix, ax = _plot_synthetic(sub, 2)
    check_image_is_matrix(ax, matrix, "plot_attention(matrix, tokens)")


@case(points=0.5)
def tick_labels_are_the_tokens(sub):
    _, ax = _plot_synthetic(sub, 3)
    check_tick_labels(ax, TOKENS, "plot_attention(matrix, tokens)")


@case(points=0.25)
def title_argument_becomes_the_axes_title(sub):
    matrix = synthetic_attentions(6)[2, 1]
    title = "layer 2, head 1"
    with closing_new_figures():
        ax = sub.call("plot_attention", matrix, TOKENS, title=title)
    check_title(ax, title, f"plot_attention(matrix, tokens, title={title!r})")
