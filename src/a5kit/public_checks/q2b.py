"""q2b: plotting a one-hot encoding as a heatmap -- public checks.

Tests look at what the Axes shows (tick labels, the image's data, labels), never at pixels."""

from __future__ import annotations

import sys

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.public_checks import stored

EXAMPLE = "ACGTNGATTACA"


def close_figures() -> None:
    """Close the figures a plotting function opened, so a check cell shows no stray plots.
    A no-op where pyplot was never imported (the grader process)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def plot_summary(sub, function: str, *args, what: str) -> dict:
    """Call the student's plotting function and return the summary of the Axes it returned."""
    try:
        value = sub.call(function, *args)
    finally:
        close_figures()
    return expect.axes(value, what)


def check_heatmap(summary: dict, encoded: np.ndarray, what: str) -> None:
    """The Axes shows ``encoded`` transposed: an image of 4 rows (A, C, G, T) by L positions."""
    length = len(encoded)
    images = [np.asarray(im, dtype=float) for im in summary["images"]]
    if not images:
        raise Failure(
            f"{what}: the Axes shows no image; draw the matrix with ax.imshow(...) or sns.heatmap(..., ax=ax)"
        )
    for image in images:
        if image.shape == (4, length) and np.allclose(image, encoded.T):
            return
    for image in images:
        if image.shape == (length, 4):
            raise Failure(
                f"{what}: the image has shape ({length}, 4): transposed? Bases go on the y axis (4 rows) and "
                f"positions on the x axis ({length} columns): plot encoded.T"
            )
        if image.shape == (4, length):
            raise Failure(
                f"{what}: the image has the right shape (4, {length}) but not the values of encoded.T (rows A, C, G, T in that order?)"
            )
    shapes = ", ".join(str(tuple(im.shape)) for im in images)
    raise Failure(
        f"{what}: expected an image of shape (4, {length}) equal to encoded.T, got image(s) of shape {shapes}"
    )


def check_base_ticks(summary: dict, what: str) -> None:
    labels = [t.strip() for t in summary["yticklabels"]]
    if labels != list("ACGT"):
        raise Failure(
            f"{what}: the y tick labels are {labels}, expected ['A', 'C', 'G', 'T'] (one per row): "
            "ax.set_yticks(range(4), list('ACGT')), or sns.heatmap(..., yticklabels=list('ACGT'))"
        )


def check_position_label(summary: dict, what: str) -> None:
    """The x axis (the positions) is labelled "Position" (any case, more words allowed)."""
    label = str(summary["xlabel"]).strip()
    if "position" in label.lower():
        return
    if not label:
        raise Failure(f'{what}: the x axis has no label; label it "Position": ax.set_xlabel("Position")')
    raise Failure(
        f"{what}: the x axis is labelled {label!r}; it shows the positions along the sequence: label it "
        f'"Position" (ax.set_xlabel("Position"))'
    )


@case(points=0.5)
def y_tick_labels_are_the_bases_a_c_g_t(sub):
    summary = plot_summary(
        sub, "plot_one_hot", stored.value("q2b.example.encoded"), what=f"plot_one_hot(one-hot of {EXAMPLE!r})"
    )
    check_base_ticks(summary, "plot_one_hot")


@case(points=0.5)
def image_is_bases_by_positions(sub):
    encoded = stored.value("q2b.example.encoded")
    summary = plot_summary(sub, "plot_one_hot", encoded, what=f"plot_one_hot(one-hot of {EXAMPLE!r})")
    check_heatmap(summary, encoded, "plot_one_hot")


@case(points=0.5)
def x_axis_is_labelled_position(sub):
    summary = plot_summary(
        sub, "plot_one_hot", stored.value("q2b.example.encoded"), what=f"plot_one_hot(one-hot of {EXAMPLE!r})"
    )
    check_position_label(summary, "plot_one_hot")
