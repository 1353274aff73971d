"""The ridge probe behind notebook 4's control measures what features hold, not how fast a head trains.

Synthetic features stand in for a trunk's embeddings: 8 windows x 100 bins like the task, more
features than training bins (as Enformer's 3,072), targets that depend on a few of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from a5kit import linear_probe

WINDOWS, BINS, FEATURES = 8, 100, 300


def _features(seed: int = 0) -> np.ndarray:
    """Features with a large, uneven scale, as a random trunk's are."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(WINDOWS, BINS, FEATURES)) * rng.uniform(0.1, 50.0, size=FEATURES)


def _signal(E: np.ndarray, seed: int = 1, noise: float = 1.0) -> np.ndarray:
    """Three tracks, each a linear function of a few features plus noise, shifted positive like counts."""
    rng = np.random.default_rng(seed)
    z = (E - E.mean(axis=(0, 1))) / E.std(axis=(0, 1))
    weights = np.zeros((FEATURES, 3))
    weights[rng.choice(FEATURES, size=(5, 3)), np.arange(3)] = 1.0
    return z @ weights + noise * rng.normal(size=(WINDOWS, BINS, 3)) + 5.0


def _probe(E: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    return linear_probe.ridge_probe(E[:6], Y[:6], E[6:], Y[6:])


def test_on_features_that_carry_the_signal_the_probe_finds_it():
    E = _features()
    result = _probe(E, _signal(E))
    assert np.all(result["test_r"] > 0.8), result["test_r"]
    assert np.all(result["test_ci"][:, 0] > 0.6)


def test_on_shuffled_targets_the_probe_finds_nothing():
    E = _features()
    Y = _signal(E)
    shuffled = np.random.default_rng(2).permutation(Y.reshape(-1, 3)).reshape(Y.shape)
    result = _probe(E, shuffled)
    assert np.all(np.abs(result["test_r"]) < 0.25), result["test_r"]
    assert np.all(result["test_ci"][:, 0] < 0.1)


def test_the_ridge_strength_is_chosen_from_the_training_windows_only():
    E = _features()
    Y = _signal(E)
    other = Y.copy()
    other[6:] = np.random.default_rng(3).normal(size=other[6:].shape)
    first, second = _probe(E, Y), _probe(E, other)
    np.testing.assert_array_equal(first["alpha"], second["alpha"])
    np.testing.assert_array_equal(first["test_prediction"], second["test_prediction"])


def test_strong_noise_is_met_with_strong_regularisation():
    E = _features()
    quiet, noisy = _probe(E, _signal(E, noise=0.1)), _probe(E, _signal(E, noise=20.0))
    assert np.all(noisy["alpha"] > quiet["alpha"])


def test_the_training_r_of_an_overfitting_read_out_is_shown_beside_a_poor_held_out_r():
    E = _features()
    noise = np.random.default_rng(4).normal(size=(WINDOWS, BINS, 3))
    result = _probe(E, noise)
    assert result["train_r"].shape == result["test_r"].shape == (3,)
    assert np.all(result["train_r"] >= result["test_r"] - 0.05)


def test_pearson_matches_numpy_and_is_zero_for_a_constant_prediction():
    rng = np.random.default_rng(5)
    p, y = rng.normal(size=(2, 50, 3)), rng.normal(size=(2, 50, 3))
    want = [np.corrcoef(p[..., t].ravel(), y[..., t].ravel())[0, 1] for t in range(3)]
    np.testing.assert_allclose(linear_probe.pearson(p, y), want, atol=1e-12)
    assert linear_probe.pearson(np.ones((2, 50, 3)), y).tolist() == [0.0, 0.0, 0.0]


def test_the_bootstrap_interval_holds_the_estimate_and_narrows_with_more_bins():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(8, 100, 1))
    p = y + rng.normal(size=y.shape)
    wide = linear_probe.block_bootstrap_ci(p[:1], y[:1])[0]
    narrow = linear_probe.block_bootstrap_ci(p, y)[0]
    r = linear_probe.pearson(p, y)[0]
    assert narrow[0] < r < narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_one_training_window_is_refused_with_a_reason():
    E = _features()
    with pytest.raises(ValueError, match="at least two training windows"):
        linear_probe.choose_alphas(E[:1], _signal(E)[:1])


def test_embeddings_of_the_tiny_trunk_are_cropped_and_leave_the_model_as_it_was():
    torch = pytest.importorskip("torch")
    from a5kit import models

    model = models.tiny_enformer(0)
    model.train()
    crop = model.trunk[-2].target_length
    X = np.eye(4, dtype=np.float32)[np.random.default_rng(7).integers(0, 4, size=(3, 16 * 128))]
    E = linear_probe.trunk_embeddings(model, X, bins=16)
    assert E.shape == (3, 16, 96) and model.training and model.trunk[-2].target_length == crop
    with torch.no_grad():
        model.eval()
        model.set_target_length(16)
        want = model(torch.as_tensor(X), return_only_embeddings=True).double().numpy()
    np.testing.assert_allclose(E, want, rtol=1e-4, atol=1e-6)  # float32 in batches of 2 vs 3
