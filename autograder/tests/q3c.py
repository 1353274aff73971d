"""q3c: accuracy of the student's CNN on the hidden test set -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np

from a5kit import motifs
from a5kit.checking import Failure, case
from a5kit.grader.precomputed import precomputed
from a5kit.public_checks.q3a import encode, tf_indices
from a5kit.public_checks.q3b import EPOCHS
from a5kit.public_checks.q3c import accuracy, trained_model

# How the threshold was set: the reference solution (solutions/02_dna_cnn.ipynb: one Conv1d of 64
# width-9 filters, ReLU, global max pool, linear; Adam lr 1e-2, batches of 64) trained with
# train_cnn(X_train, y_train, epochs=EPOCHS, seed=0) scores REFERENCE_ACCURACY on
# generate(N_TEST, 97531) (torch 2.13 CPU; tests/test_checks_dna.py re-measures it), and 0.97-0.99
# on the test sets of other seeds: each `make autograder` draws a new hidden seed. MARGIN covers that draw-to-draw spread and other
# sound designs (16 width-5 filters: 0.95); a network that learns little fails (untrained 0.20,
# logistic regression on the one-hot 0.79, width-3 filters that cannot span a motif 0.94).
REFERENCE_ACCURACY = 0.99
MARGIN = 0.05
THRESHOLD = REFERENCE_ACCURACY - MARGIN


@precomputed
def hidden_test_set(hidden_seed: int | None = None) -> dict[str, np.ndarray]:
    """Generated with pyjaspar from the hidden seed (the build passes it; elsewhere A5KIT_HIDDEN_SEED); the
    autograder stores it (and the seed) at build time, so grading needs neither pyjaspar nor the seed."""
    seed = motifs.hidden_seed_from_env() if hidden_seed is None else int(hidden_seed)
    rows = motifs.generate(motifs.N_TEST, seed)
    return {
        "X": encode([s for s, _ in rows]),
        "y": tf_indices([t for _, t in rows]),
        "seed": np.array(seed, dtype=np.int64),
    }


@case(points=1.5)
def hidden_test_accuracy_reaches_threshold(sub):
    test_set = hidden_test_set()
    X, y = test_set["X"], test_set["y"]
    acc = accuracy(sub, trained_model(sub), X, y, "predict_tfs(model, X_test)")
    if acc < THRESHOLD:
        raise Failure(
            f"accuracy on the hidden test set {acc:.3f} after train_cnn(X_train, y_train, epochs={EPOCHS}, seed=0); "
            f"it must reach {THRESHOLD:.2f} (the reference CNN scores {REFERENCE_ACCURACY:.2f})"
        )
