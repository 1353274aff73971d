"""q3b: a CNN that classifies motif sequences, trained deterministically -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.plain import Handle
from a5kit.public_checks.q3a import split

EPOCHS = 10  # the epochs the notebook and the autograder train for: train_cnn(X_train, y_train, epochs=EPOCHS, seed=0)
SMALL = 300  # training sequences for the quick checks


def model_of(result, what: str) -> Handle:
    """The trained model of ``train_cnn``'s ``(model, losses)``; Question 3c judges only it, so a mistake in the losses costs q3b alone."""
    if not isinstance(result, list) or len(result) != 2:
        kind = f"a sequence of {len(result)}" if isinstance(result, list) else type(result).__name__
        raise Failure(f"{what}: expected a tuple (model, losses), got {kind}")
    if not isinstance(result[0], Handle):
        raise Failure(
            f"{what}: the first element should be the trained model (your MotifCNN), got {type(result[0]).__name__}"
        )
    return result[0]


def model_and_losses(result, epochs: int, what: str) -> tuple[Handle, np.ndarray]:
    """Unpack ``train_cnn``'s ``(model, losses)`` and check the losses: one finite float per epoch."""
    model, losses = model_of(result, what), result[1]
    if isinstance(losses, list) and any(isinstance(v, np.ndarray) for v in losses):
        raise Failure(
            f"{what}: the losses are tensors, not Python floats: append loss.item() (a tensor that requires grad keeps its "
            "whole autograd graph in memory, and the notebook's loss plot cannot draw it)"
        )
    losses = expect.array(losses, f"{what}: losses", None)
    if losses.ndim != 1 or len(losses) != epochs:
        raise Failure(
            f"{what}: expected one mean training loss per epoch ({epochs} values), got shape {tuple(losses.shape)}: "
            "average the batch losses of each epoch"
        )
    if not np.all(np.isfinite(losses)):
        raise Failure(f"{what}: the losses contain NaN or inf: {losses.tolist()}")
    return model, losses


def train_small(sub, seed: int = 0, epochs: int = 2) -> tuple[Handle, np.ndarray]:
    X, y, _ = split("training")
    what = f"train_cnn(X[:{SMALL}], y[:{SMALL}], epochs={epochs}, seed={seed})"
    return model_and_losses(sub.call("train_cnn", X[:SMALL], y[:SMALL], epochs=epochs, seed=seed), epochs, what)


def check_seeds_differ(sub, seed: int, other: int) -> None:
    """train_cnn with ``seed`` and with ``other`` gives different losses: the seed argument is used."""
    _, first = train_small(sub, seed=seed)
    _, second = train_small(sub, seed=other)
    if np.allclose(first, second, rtol=1e-6, atol=1e-9):
        raise Failure(
            f"train_cnn gave the same losses for seed={seed} and seed={other} ({first.tolist()}): another seed must give another run; "
            "use the seed argument (torch.manual_seed(seed), torch.Generator().manual_seed(seed)), do not fix it to a constant"
        )


@case(points=0.5)
def train_cnn_returns_model_and_one_loss_per_epoch(sub):
    train_small(sub)


@case(points=1)
def same_seed_gives_identical_losses(sub):
    _, first = train_small(sub, seed=0)
    _, second = train_small(sub, seed=0)
    if not np.allclose(first, second, rtol=1e-6, atol=1e-9):
        raise Failure(
            f"two calls of train_cnn(..., seed=0) gave different losses ({first.tolist()} vs {second.tolist()}): "
            "call torch.manual_seed(seed) before creating the model, and shuffle with a seeded generator "
            "(torch.Generator().manual_seed(seed)) so the batches come in the same order"
        )


@case(points=0.25)
def another_seed_gives_other_losses(sub):
    check_seeds_differ(sub, 0, 2)


@case(points=0.25)
def gradients_are_cleared_before_each_backward(sub):
    X, y, _ = split("training")
    sub.kit("watch_gradients", True)
    try:
        sub.call("train_cnn", X[:SMALL], y[:SMALL], epochs=1, seed=0)
    finally:
        seen = sub.kit("watch_gradients", False)
    if seen["kept"]:
        raise Failure(
            f"train_cnn(X[:{SMALL}], y[:{SMALL}], epochs=1, seed=0): {seen['kept']} parameter gradients were added to the previous "
            "batch's instead of replacing them: PyTorch accumulates gradients in .grad, so call optimizer.zero_grad() "
            "before each loss.backward()"
        )
