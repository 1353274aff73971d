"""q3a: PCA of the one-hot motif data set -- public checks, and the data helpers of Question 3."""

from __future__ import annotations

import functools

import numpy as np

from a5kit import motifs
from a5kit.checking import Failure, case, expect
from a5kit.checking.submission import StudentError
from a5kit.public_checks import stored
from a5kit.public_checks.q2b import plot_summary


def encode(seqs: list[str]) -> np.ndarray:
    """The motif data set's equal-length A/C/G/T sequences as one-hot (N, L, 4) float32 (no other letter occurs in it)."""
    codes = np.array([["ACGT".index(base) for base in s] for s in seqs])
    return np.eye(4, dtype=np.float32)[codes]


def tf_indices(labels: list[str]) -> np.ndarray:
    """Class indices in ``motifs.TFS`` order."""
    return np.array([motifs.TFS.index(t) for t in labels], dtype=np.int64)


@functools.cache
def split(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """A committed split as (X (N, 18, 4) float32, y (N,) int64, TF names); read-only arrays."""
    seqs, labels = motifs.load_split(name)
    X, y = encode(seqs), tf_indices(labels)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y, tuple(labels)


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def standardise(X: np.ndarray) -> np.ndarray:
    """Flattened features as z-scores (population std; a constant feature becomes 0)."""
    F = _flat(X)
    std = F.std(axis=0)
    std[std == 0] = 1.0
    return (F - F.mean(axis=0)) / std


def align_signs(got: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Flip each column of ``got`` to the sign of the matching column of ``expected``."""
    signs = np.sign(np.sum(got * expected, axis=0))
    signs[signs == 0] = 1
    return got * signs


def _matches(got: np.ndarray, expected: np.ndarray) -> bool:
    # rtol allows the sample std (ddof=1) instead of the population std: a factor sqrt(N / (N - 1)).
    scale = float(np.abs(expected).max())
    return bool(np.allclose(align_signs(got, expected), expected, rtol=5e-3, atol=1e-3 * scale))


VARIANCE_TOLERANCE = 0.05


def call_pca(sub, X: np.ndarray, what: str):
    """The student's pca_2d(X); a NaN error from scikit-learn is explained as the zero-variance feature it is."""
    try:
        return sub.call("pca_2d", X)
    except StudentError as err:
        if "nan" in str(err.error).lower() or "infinity" in str(err.error).lower():
            raise Failure(
                f"{what}: raised {type(err.error).__name__} ({str(err.error)[:120]}): some features never vary (here every sequence "
                "starts with A and ends with T), so their standard deviation is 0 and dividing by it gives NaN. "
                "Set a constant feature's z-score to 0 (divide by 1 where the standard deviation is 0; StandardScaler does this)"
            ) from None
        raise


def check_pca(value, X: np.ndarray, expected: dict[str, np.ndarray], what: str) -> None:
    """``value`` must be the standardised 2-component PCA of ``X``, up to the sign of each component.

    An answer equal to the reference up to sign passes at once. Otherwise the test checks PCA's
    definition: each column is the projection of the z-scores on a unit-length direction, the two
    directions are orthogonal, and each captures the variance of its principal component (within
    VARIANCE_TOLERANCE). In this data PC 2 and PC 3 explain almost the same variance, so PC 2 is not
    well determined: any direction in that near-tie is accepted (e.g. scikit-learn's randomised
    solver's); an unstandardised, whitened, swapped or non-orthogonal answer is not, nor a rough
    low-rank approximation (torch.pca_lowrank with its defaults captures 70-85% of PC 2's variance).
    """
    unstandardised, reference = expected["unstandardised"], expected["value"]
    got = expect.array(value, what, (len(X), 2))
    if not np.all(np.isfinite(got)):
        raise Failure(
            f"{what}: contains NaN or inf: a feature that never varies has standard deviation 0; "
            "set its z-score to 0 (divide by 1 where the standard deviation is 0)"
        )
    if _matches(got, reference):
        return
    n_features = X.shape[1] * X.shape[2]
    if _matches(got, unstandardised):
        raise Failure(
            f"{what}: this is PCA without standardising? z-score each of the {n_features} features "
            "(subtract its mean, divide by its standard deviation) before the PCA"
        )
    Z = standardise(X)
    variances = np.linalg.svd(Z, compute_uv=False) ** 2 / len(Z)  # of the principal components
    directions, *_ = np.linalg.lstsq(Z, got, rcond=None)  # got = Z @ directions, if it is a projection
    residual = np.linalg.norm(Z @ directions - got, axis=0) / np.maximum(np.linalg.norm(got, axis=0), 1e-12)
    if np.any(residual > 1e-2):
        raise Failure(
            f"{what}: the coordinates are not a projection of the standardised features: flatten X to "
            f"(N, {n_features}), z-score every feature over the N sequences, then project on the components"
        )
    lengths = np.linalg.norm(directions, axis=0)
    if np.any(np.abs(lengths - 1) > 0.02):
        raise Failure(
            f"{what}: the coordinates are scaled (the components have length {np.round(lengths, 3).tolist()}, not 1): "
            "project on unit-length components, without whitening or dividing by the singular values"
        )
    got_var = got.var(axis=0)
    share = got_var / variances.sum()
    if got_var[1] > got_var[0] * (1 + VARIANCE_TOLERANCE):
        raise Failure(
            f"{what}: the two columns are swapped: column 0 must be the component that explains the most variance"
        )
    if got_var[0] < (1 - VARIANCE_TOLERANCE) * variances[0]:
        raise Failure(
            f"{what}: column 0 explains {share[0]:.1%} of the variance, the first principal component "
            f"{variances[0] / variances.sum():.1%}: it is not the first principal component"
        )
    cosine = abs(float(directions[:, 0] @ directions[:, 1])) / float(np.prod(lengths))
    if cosine > 0.05:
        raise Failure(
            f"{what}: the two components are not orthogonal (cosine {cosine:.2f}); column 1 must be orthogonal to column 0"
        )
    if got_var[1] < (1 - VARIANCE_TOLERANCE) * variances[1]:
        raise Failure(
            f"{what}: column 1 explains {share[1]:.1%} of the variance, the second principal component "
            f"{variances[1] / variances.sum():.1%}: it is not the second principal component "
            "(an approximate solver such as torch.pca_lowrank is not accurate enough here: use an exact PCA, "
            "scikit-learn's PCA or np.linalg.svd)"
        )


def check_legend(summary: dict, what: str) -> None:
    legend = [t.strip() for t in summary["legend"]]
    if not legend:
        raise Failure(f"{what}: the plot has no legend; add one entry per TF (ax.legend(), or seaborn's hue= does it)")
    if sorted(legend) != sorted(motifs.TFS):
        raise Failure(f"{what}: the legend shows {legend}; expected one entry per TF: {', '.join(motifs.TFS)}")


def check_points_coloured_by_tf(summary: dict, coords: np.ndarray, labels: list[str], what: str) -> None:
    """Every row of ``coords`` is drawn once, at its coordinates, all points of a TF in one colour and
    each TF in another. Colours computed at draw time from a colormap (``c=codes``) are not in the
    summary; then a single scatter of one face colour is trusted (its legend is checked separately)."""
    n = len(coords)
    offsets, colours = [], []
    for p in summary["points"]:
        off, fc = np.asarray(p["offsets"], dtype=float), np.asarray(p["facecolors"], dtype=float)
        offsets.append(off)
        colours.append(
            fc
            if len(fc) == len(off)
            else np.repeat(fc[:1], len(off), axis=0)
            if len(fc)
            else np.full((len(off), 4), np.nan)
        )
    drawn = np.concatenate(offsets) if offsets else np.empty((0, 2))
    if len(drawn) != n:
        raise Failure(f"{what}: expected {n} scatter points (one per row of coords), found {len(drawn)}")
    dist = np.abs(drawn[:, None, :] - coords[None, :, :]).sum(axis=2)
    which = dist.argmin(axis=1)
    if not np.allclose(dist[np.arange(n), which], 0, atol=1e-6) or len(set(which.tolist())) != n:
        raise Failure(f"{what}: the points are not at the given coordinates (x = coords[:, 0], y = coords[:, 1])")
    colour = np.concatenate(colours).round(4)
    if len(summary["points"]) == 1 and len({tuple(c) for c in colour}) == 1:
        return  # colours from a colormap (c=...) are computed at draw time: not visible here, trust the legend
    by_tf: dict[str, set] = {}
    for i, point in enumerate(which):
        by_tf.setdefault(labels[point], set()).add(tuple(colour[i]))
    mixed = sorted(tf for tf, c in by_tf.items() if len(c) != 1)
    if mixed:
        raise Failure(
            f"{what}: colour the points by TF: the points of {', '.join(mixed)} have more than one colour (one colour per TF)"
        )
    if len({next(iter(c)) for c in by_tf.values()}) != len(by_tf):
        raise Failure(
            f"{what}: colour the points by TF: some TFs share a colour (give each TF its own colour, e.g. one "
            f"ax.scatter per TF with label=tf)"
        )


def with_constant_ends(X: np.ndarray) -> np.ndarray:
    """X with every sequence starting with A and ending with T: 8 features that never vary."""
    X = np.array(X)
    X[:, 0] = [1, 0, 0, 0]
    X[:, -1] = [0, 0, 0, 1]
    return X


PUBLIC_INPUTS = ("constant_ends",)  # the PCA of each is stored


def public_input(name: str) -> np.ndarray:
    """The fixed public input ``name``: the first 200 training sequences, made to start with A and end with T."""
    assert name == "constant_ends", name
    return with_constant_ends(split("training")[0][:200])


@case(points=0.5)
def pca_2d_standardises_and_keeps_constant_features_finite(sub):
    X = public_input("constant_ends")
    what = "pca_2d(X) on 200 training sequences that all start with A and end with T"
    expected = {
        "value": stored.value("q3a.constant_ends.value"),
        "unstandardised": stored.value("q3a.constant_ends.unstandardised"),
    }
    check_pca(call_pca(sub, X, what), X, expected, what)


@case(points=0.5)
def plot_pca_has_a_legend_with_the_five_tfs(sub):
    _, _, labels = split("training")
    coords = np.random.default_rng(4).normal(size=(300, 2))
    summary = plot_summary(sub, "plot_pca", coords, list(labels[:300]), what="plot_pca(coords, labels)")
    if not summary["points"]:
        raise Failure(
            "plot_pca: the Axes has no scatter points; draw them with ax.scatter(...) or sns.scatterplot(..., ax=ax)"
        )
    check_legend(summary, "plot_pca")


@case(points=0.25)
def plot_pca_gives_each_tf_its_own_colour(sub):
    coords = np.random.default_rng(6).normal(size=(100, 2))
    labels = [motifs.TFS[(3 * i) % len(motifs.TFS)] for i in range(len(coords))]  # all five TFs, interleaved
    summary = plot_summary(sub, "plot_pca", coords, labels, what="plot_pca(coords, labels)")
    check_points_coloured_by_tf(summary, coords, labels, "plot_pca")
