"""q3b: the motif CNN -- hidden checks (autograder only)."""

from __future__ import annotations

import math

from a5kit.checking import Failure, case
from a5kit.public_checks.q3a import split
from a5kit.public_checks.q3b import check_seeds_differ, model_and_losses


@case(points=0.25)
def another_seed_gives_another_run(sub):
    check_seeds_differ(sub, 1, 3)


@case(points=0.75)
def training_loss_decreases_below_chance(sub):
    X, y, _ = split("training")
    n, epochs = 1000, 3
    _, losses = model_and_losses(
        sub.call("train_cnn", X[:n], y[:n], epochs=epochs, seed=0),
        epochs,
        f"train_cnn(X[:{n}], y[:{n}], epochs={epochs}, seed=0)",
    )
    chance = math.log(5)  # cross-entropy of guessing uniformly among 5 TFs
    if not (losses[-1] < losses[0] and losses[-1] < chance):
        raise Failure(
            f"the mean training loss should fall below chance (ln 5 = {chance:.3f}) within {epochs} epochs on {n} sequences; "
            f"got {[round(float(v), 4) for v in losses]}: does the optimizer step, is the learning rate too small?"
        )
