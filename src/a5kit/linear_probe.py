"""What a frozen trunk's features hold: a ridge probe fitted to convergence, with an honest noise scale.

Notebook 4's control compares a pretrained and a random frozen trunk. A head trained for a few Adam
steps measures how fast Adam moves a head on features of a given scale, not what the features hold
(issue 21: 40 steps on random-trunk features reached held-out r about 0.0, a converged ridge probe
0.6-0.7). So the frozen rows are closed-form ridge regressions on embeddings computed once: the
regularisation of each track is chosen by leave-one-window-out cross-validation on the training
windows only, and the held-out r comes with a block-bootstrap 95 % interval over its bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

ALPHAS = tuple(
    float(a) for a in np.logspace(-6, 4, 21)
)  # ridge strengths, relative to the mean eigenvalue of the features' Gram matrix
BLOCK_BINS = 10  # adjacent bins resampled together: neighbouring 128 bp bins share sequence context
BOOTSTRAP = 2000


def trunk_embeddings(enformer: Any, sequences: np.ndarray, bins: int, batch_size: int = 2) -> np.ndarray:
    """The frozen trunk's per-bin embeddings of one-hot ``sequences`` (windows, length, 4): (windows, bins, features), float64.

    Eval mode (dropout off) and no gradients (the kit's ``embeddings`` probe), cropped to ``bins`` as
    HeadAdapterWrapper crops to its targets: what a head on the frozen trunk sees. The crop is restored.
    """
    from a5kit.kernel_server.probes import embeddings

    crop = enformer.trunk[-2].target_length
    enformer.set_target_length(int(bins))
    try:
        parts = [
            embeddings(enformer, np.asarray(sequences[i : i + batch_size], dtype=np.float32))
            for i in range(0, len(sequences), batch_size)
        ]
    finally:
        enformer.set_target_length(crop)
    return np.concatenate(parts).astype(np.float64)


def pearson(prediction: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r per track (last axis), all leading axes pooled; 0 where either side is constant."""
    p = np.asarray(prediction, dtype=np.float64).reshape(-1, np.shape(prediction)[-1])
    y = np.asarray(target, dtype=np.float64).reshape(-1, np.shape(target)[-1])
    p, y = p - p.mean(axis=0), y - y.mean(axis=0)
    denominator = np.sqrt((p * p).sum(axis=0) * (y * y).sum(axis=0))
    return np.divide((p * y).sum(axis=0), denominator, out=np.zeros(p.shape[1]), where=denominator > 0)


def _ridge(train: np.ndarray, targets: np.ndarray, apply_to: list[np.ndarray], alphas: np.ndarray) -> list[np.ndarray]:
    """Ridge predictions for each array of ``apply_to`` (m, features), intercept unpenalised: (len(alphas), m, tracks) each.

    ``alphas`` (k, tracks): one strength per track for each of k fits. Dual form (bins are fewer than
    features): with K = E Eᵀ = U S Uᵀ, the fit is Eᵀ U (S + a)^-1 Uᵀ Y, one eigendecomposition for all
    k fits. Alphas are multiples of mean(S), so one grid suits features of any scale.
    """
    mean_x, mean_y = train.mean(axis=0), targets.mean(axis=0)
    E, Y = train - mean_x, targets - mean_y
    S, U = np.linalg.eigh(E @ E.T)
    S = np.clip(S, 0.0, None)
    scale = max(float(S.mean()), 1e-300)
    projected = U.T @ Y  # (n, tracks)
    coefficients = projected[None] / (S[None, :, None] + np.asarray(alphas)[:, None, :] * scale)  # (k, n, tracks)
    return [np.einsum("mn,knt->kmt", ((X - mean_x) @ E.T) @ U, coefficients) + mean_y for X in apply_to]


def choose_alphas(embeddings: np.ndarray, targets: np.ndarray, alphas: tuple[float, ...] = ALPHAS) -> np.ndarray:
    """Per track, the ridge strength with the lowest leave-one-window-out squared error: training windows only.

    ``embeddings`` (windows, bins, features), ``targets`` (windows, bins, tracks).
    """
    windows, tracks = len(embeddings), targets.shape[-1]
    if windows < 2:
        raise ValueError("choosing the ridge strength by leaving one window out needs at least two training windows")
    grid = np.repeat(np.asarray(alphas, dtype=np.float64)[:, None], tracks, axis=1)
    errors = np.zeros((len(alphas), tracks))
    for held in range(windows):
        keep = [w for w in range(windows) if w != held]
        E = embeddings[keep].reshape(-1, embeddings.shape[-1])
        (predictions,) = _ridge(E, targets[keep].reshape(-1, tracks), [embeddings[held]], grid)
        errors += ((predictions - targets[held][None]) ** 2).sum(axis=1)
    return np.asarray(alphas)[errors.argmin(axis=0)]


def block_bootstrap_ci(
    prediction: np.ndarray, target: np.ndarray, block: int = BLOCK_BINS, n: int = BOOTSTRAP, seed: int = 0
) -> np.ndarray:
    """95 % percentile interval of the pooled Pearson r per track, resampling blocks of ``block`` adjacent bins: (tracks, 2).

    ``prediction``, ``target``: (windows, bins, tracks). Blocks never cross a window's edge.
    """
    P, Y = np.asarray(prediction, dtype=np.float64), np.asarray(target, dtype=np.float64)
    windows, bins, _tracks = Y.shape
    starts = [(w, b) for w in range(windows) for b in range(0, bins - block + 1, block)]
    P_blocks = np.stack([P[w, b : b + block] for w, b in starts])  # (blocks, block, tracks)
    Y_blocks = np.stack([Y[w, b : b + block] for w, b in starts])
    rng = np.random.default_rng(seed)
    draws = np.array(
        [pearson(P_blocks[pick], Y_blocks[pick]) for pick in rng.integers(0, len(starts), size=(n, len(starts)))]
    )
    return np.percentile(draws, [2.5, 97.5], axis=0).T


def ridge_probe(
    train_embeddings: np.ndarray, train_targets: np.ndarray, test_embeddings: np.ndarray, test_targets: np.ndarray
) -> dict[str, np.ndarray]:
    """Fit a ridge read-out of frozen features on the training windows; score it on both.

    Returns ``alpha`` (per track, chosen on the training windows only), ``train_r`` and ``test_r``
    (pooled Pearson r per track), ``test_ci`` (tracks, 2), and ``test_prediction`` (windows, bins, tracks).
    """
    E_train, E_test = np.asarray(train_embeddings, np.float64), np.asarray(test_embeddings, np.float64)
    Y_train, Y_test = np.asarray(train_targets, np.float64), np.asarray(test_targets, np.float64)
    alphas = choose_alphas(E_train, Y_train)
    flat_train = E_train.reshape(-1, E_train.shape[-1])
    fit_train, fit_test = (
        fit[0]
        for fit in _ridge(
            flat_train,
            Y_train.reshape(-1, Y_train.shape[-1]),
            [flat_train, E_test.reshape(-1, E_test.shape[-1])],
            alphas[None],
        )
    )
    prediction = fit_test.reshape(Y_test.shape)
    return {
        "alpha": alphas,
        "train_r": pearson(fit_train, Y_train),
        "test_r": pearson(prediction, Y_test),
        "test_ci": block_bootstrap_ci(prediction, Y_test),
        "test_prediction": prediction,
    }
