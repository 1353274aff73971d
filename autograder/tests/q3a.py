"""q3a: PCA of the one-hot motif data set -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np
from a5kit_reference import pca_expected

from a5kit import motifs
from a5kit.checking import case
from a5kit.public_checks.q2b import plot_summary
from a5kit.public_checks.q3a import (
    call_pca,
    check_legend,
    check_pca,
    check_points_coloured_by_tf,
    split,
    with_constant_ends,
)


@case(points=1)
def pca_matches_standardised_pca_on_the_training_set(sub):
    X = split("training")[0]
    check_pca(call_pca(sub, X, "pca_2d(X_train)"), X, pca_expected(X), "pca_2d(X_train)")


@case(points=0.5)
def constant_features_become_zeros_not_nan(sub):
    X = with_constant_ends(split("training")[0][200:600])
    what = "pca_2d(X) where every sequence starts with A and ends with T"
    check_pca(call_pca(sub, X, what), X, pca_expected(X), what)


@case(points=0.25)
def plot_pca_draws_every_point_coloured_by_tf(sub):
    rng = np.random.default_rng(5)
    n = 150
    coords = rng.normal(size=(n, 2))
    labels = [motifs.TFS[i % len(motifs.TFS)] for i in rng.permutation(n)]
    summary = plot_summary(sub, "plot_pca", coords, labels, what="plot_pca(coords, labels)")
    check_legend(summary, "plot_pca")
    check_points_coloured_by_tf(summary, coords, labels, "plot_pca")
