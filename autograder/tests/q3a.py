"""q3a: PCA of the one-hot motif data set -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np

from a5kit import motifs
from a5kit.checks.q2b import plot_summary
from a5kit.checks.q3a import call_pca, check_legend, check_pca, split, with_constant_ends
from a5kit.checking import Failure, case
from a5kit_reference import pca_expected


@case(points=1)
def pca_matches_standardised_pca_on_the_training_set(sub):
    X = split("training")[0]
    check_pca(call_pca(sub, X, "pca_2d(X_train)"), X, pca_expected(X), "pca_2d(X_train)")


@case(points=0.5)
def constant_features_become_zeros_not_nan(sub):
    X = with_constant_ends(split("training")[0][200:600])
    what = "pca_2d(X) where every sequence starts with A and ends with T"
    check_pca(call_pca(sub, X, what), X, pca_expected(X), what)


@case(points=0.5)
def plot_pca_draws_every_point_coloured_by_tf(sub):
    rng = np.random.default_rng(5)
    n = 150
    coords = rng.normal(size=(n, 2))
    labels = [motifs.TFS[i % len(motifs.TFS)] for i in rng.permutation(n)]
    summary = plot_summary(sub, "plot_pca", coords, labels, what="plot_pca(coords, labels)")
    check_legend(summary, "plot_pca")
    offsets, colours = [], []
    for p in summary["points"]:
        off, fc = np.asarray(p["offsets"], dtype=float), np.asarray(p["facecolors"], dtype=float)
        offsets.append(off)
        colours.append(fc if len(fc) == len(off) else np.repeat(fc[:1], len(off), axis=0) if len(fc) else np.full((len(off), 4), np.nan))
    drawn = np.concatenate(offsets) if offsets else np.empty((0, 2))
    if len(drawn) != n:
        raise Failure(f"plot_pca: expected {n} scatter points (one per row of coords), found {len(drawn)}")
    dist = np.abs(drawn[:, None, :] - coords[None, :, :]).sum(axis=2)
    which = dist.argmin(axis=1)
    if not np.allclose(dist[np.arange(n), which], 0, atol=1e-6) or len(set(which.tolist())) != n:
        raise Failure("plot_pca: the points are not at the given coordinates (x = coords[:, 0], y = coords[:, 1])")
    colour = np.concatenate(colours).round(4)
    if len(summary["points"]) == 1 and len({tuple(c) for c in colour}) == 1:
        return  # colours from a colormap (c=...) are computed at draw time: not visible here, trust the legend
    by_tf: dict[str, set] = {}
    for i, point in enumerate(which):
        by_tf.setdefault(labels[point], set()).add(tuple(colour[i]))
    if any(len(c) != 1 for c in by_tf.values()) or len({next(iter(c)) for c in by_tf.values()}) != len(by_tf):
        raise Failure("plot_pca: colour the points by TF: all points of a TF in one colour, a different colour for each TF")
