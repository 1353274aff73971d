"""q5b: the fine-tuning loop, with the trunk frozen or not -- public checks.

Training is verified from plain data, not from what the loop reports: the loss of the new head is
recomputed here in numpy from the head's weights (before and after ``finetune``) and the trunk's
embeddings of the batch, so a loop that only makes up falling losses, or perturbs the head at
random, does not pass. With the trunk frozen the whole model must run in eval mode (the trunk's
dropout off), so the first reported loss must equal the recomputed loss of the untrained head.
"""

from __future__ import annotations

import contextlib

import numpy as np

from a5kit.checking import Failure, case
from a5kit.checking.plain import Handle
from a5kit.public_checks.q5a import BIN, make_adapter, split_parameters, task_data

HEAD_WEIGHT, HEAD_BIAS = "to_tracks.0.weight", "to_tracks.0.bias"


def batches(sub, seed: int, n: int, batch: int = 1, bins: int = 16, num_tracks: int = 3) -> Handle:
    """``n`` (sequence, target) pairs of float32 tensors, made and kept in the student's process (a list-like Handle)."""
    return batches_and_data(sub, seed, n, batch, bins, num_tracks)[0]


def batches_and_data(
    sub, seed: int, n: int, batch: int = 1, bins: int = 16, num_tracks: int = 3
) -> tuple[Handle, list]:
    """(the batches as a Handle, the same pairs as numpy arrays)."""
    sub.kit("manual_seed", seed)  # dropout draws from torch's global generator: the same run every time
    pairs = [task_data(seed=seed + i, batch=batch, length=bins * BIN, num_tracks=num_tracks) for i in range(n)]
    return sub.kit("tensor_batches", pairs), pairs


@contextlib.contextmanager
def quiet(sub):
    """Progress bars off in the student's process while a check trains (restored afterwards)."""
    sub.kit("progress_bars", False)
    try:
        yield
    finally:
        sub.kit("progress_bars", True)


def head_loss(embeddings: np.ndarray, head: dict[str, np.ndarray], targets: np.ndarray) -> float:
    """The wrapper's Poisson loss, in numpy (float64): mean(pred - y log pred), pred = softplus(E W^T + b)."""
    if HEAD_WEIGHT not in head or HEAD_BIAS not in head:
        raise Failure(
            f"the adapter's new head should be HeadAdapterWrapper's own to_tracks (a linear layer, then a "
            f"softplus); its parameters are {sorted(head)}"
        )
    E = np.asarray(embeddings, dtype=np.float64)
    z = E @ np.asarray(head[HEAD_WEIGHT], dtype=np.float64).T + np.asarray(head[HEAD_BIAS], dtype=np.float64)
    pred = np.logaddexp(0.0, z)
    return float(np.mean(pred - np.asarray(targets, dtype=np.float64) * np.log(np.maximum(pred, 1e-20))))


def losses_of(value, steps: int, what: str) -> np.ndarray:
    """``finetune``'s answer: a list of ``steps`` finite Python floats."""
    if (isinstance(value, np.ndarray) and value.ndim == 0) or isinstance(value, float):
        raise Failure(f"{what}: expected a list of {steps} losses (one per step), got a single number")
    if not isinstance(value, (list, np.ndarray)):
        raise Failure(f"{what}: expected a list of {steps} floats (one loss per step), got {type(value).__name__}")
    if isinstance(value, list) and any(isinstance(v, np.ndarray) for v in value):
        raise Failure(
            f"{what}: the losses are tensors, not Python floats: append loss.item() (a tensor that requires grad keeps "
            "its whole autograd graph in memory, and matplotlib cannot plot it)"
        )
    values = np.asarray(value, dtype=float) if len(value) else np.zeros(0)
    if values.ndim != 1 or len(values) != steps:
        raise Failure(
            f"{what}: expected one loss per optimisation step ({steps} values), got {values.size}: "
            "loop over range(steps), taking batches[step % len(batches)] at each step"
        )
    if not np.all(np.isfinite(values)):
        raise Failure(f"{what}: the losses contain NaN or inf: {values.tolist()}")
    return values


def changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> list[str]:
    return [k for k in before if k in after and not np.array_equal(before[k], after[k])]


def check_first_loss_in_eval_mode(first: float, expected: float, what: str) -> None:
    """With the trunk frozen (and in eval mode) step 0's loss is the untrained head's loss on batch 0, exactly."""
    if abs(first - expected) > 1e-3 * max(1.0, abs(expected)):
        raise Failure(
            f"{what}: the first loss, {first:.5f}, is not the loss of the untrained model on the first batch with dropout off "
            f"({expected:.5f}, recomputed from the head's weights): with freeze_enformer=True keep the frozen trunk in eval mode "
            "while the head trains (model.train(), then model.enformer.eval()), so its dropout is off and it computes the same "
            "features it will at evaluation; and report loss.item() of each step's forward pass"
        )


def check_first_loss_in_training_mode(first: float, eval_loss: float, what: str) -> None:
    """With the trunk trained its dropout is on, so step 0's loss is not the loss with dropout off."""
    if abs(first - eval_loss) <= 1e-4 * max(1.0, abs(eval_loss)):
        raise Failure(
            f"{what}: the first loss, {first:.5f}, is the loss of the untrained model with dropout off ({eval_loss:.5f}, "
            "recomputed from the head's weights): the trunk ran in evaluation mode although it is trained. With "
            "freeze_enformer=False run the whole model in training mode, model.train(), so its dropout is on; only a frozen "
            "trunk goes to model.enformer.eval()"
        )


def check_head_learned(before: float, after: float, what: str, margin: float) -> None:
    if not after < before - margin:
        raise Failure(
            f"{what}: recomputed from the head's weights, the loss on the training batch went from {before:.4f} to {after:.4f}, "
            f"not down by more than {margin}: the head did not learn. Every step needs optimizer.zero_grad(), "
            "loss.backward() on the wrapper's loss model(seq, target=target, ...), and optimizer.step(), with the lr passed in"
        )


def step_sizes(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> np.ndarray:
    """|change| of every weight element that moved (Adam's first step moves each by about its learning rate)."""
    moved = [np.abs(after[k].astype(np.float64) - before[k]).ravel() for k in before if k in after]
    d = np.concatenate(moved) if moved else np.zeros(0)
    return d[d > 0]


@case(points=1)
def finetune_returns_one_float_loss_per_step(sub):
    model = make_adapter(sub, num_tracks=3)
    with quiet(sub):
        value = sub.call("finetune", model, batches(sub, seed=10, n=2), steps=3, lr=1e-3, freeze_enformer=True)
    losses_of(value, 3, "finetune(model, batches (2 of them), steps=3, lr=1e-3)")
    # One unfrozen Adam step moves each weight by about its group's learning rate: head lr, trunk trunk_lr.
    for trunk_lr, shown in ((2e-4, "trunk_lr=2e-4"), (None, "no trunk_lr (default lr / 10)")):
        model = make_adapter(sub, num_tracks=3, seed=5)
        before = split_parameters(sub.kit("parameters", model))
        kwargs = {} if trunk_lr is None else {"trunk_lr": trunk_lr}
        what = f"finetune(model, batches, steps=1, lr=1e-3, freeze_enformer=False, {shown})"
        handle, pairs = batches_and_data(sub, seed=15, n=1)
        eval_loss = head_loss(
            np.asarray(sub.kit("embeddings", model, pairs[0][0]), dtype=np.float64), before[1], pairs[0][1]
        )
        with quiet(sub):
            first = losses_of(
                sub.call("finetune", model, handle, steps=1, lr=1e-3, freeze_enformer=False, **kwargs), 1, what
            )[0]
        after = split_parameters(sub.kit("parameters", model))
        trunk, head = step_sizes(before[0], after[0]), step_sizes(before[1], after[1])
        want = 2e-4 if trunk_lr is not None else 1e-4
        if not len(trunk):
            raise Failure(
                f"{what}: no trunk weight changed: with freeze_enformer=False the trunk's parameters need their own "
                "parameter group in the optimizer, at trunk_lr"
            )
        check_first_loss_in_training_mode(float(first), eval_loss, what)
        if not 0.5 * want < float(np.median(trunk)) < 2 * want:
            raise Failure(
                f"{what}: the trunk's weights moved by {float(np.median(trunk)):.2g} (median), as if trained at that learning rate; "
                f"expected about {want:g}: give the trunk its own Adam parameter group at trunk_lr (default lr / 10), the head "
                "at lr: torch.optim.Adam([{'params': head, 'lr': lr}, {'params': trunk, 'lr': trunk_lr}])"
            )
        if len(head) and not 0.5e-3 < float(np.median(head)) < 2e-3:
            raise Failure(
                f"{what}: the head's weights moved by {float(np.median(head)):.2g} (median); expected about lr = 1e-3"
            )


@case(points=1)
def frozen_trunk_stays_fixed_while_the_head_learns(sub):
    model = make_adapter(sub, num_tracks=3)
    handle, pairs = batches_and_data(sub, seed=20, n=1, batch=2)
    X, Y = pairs[0]
    embeddings = np.asarray(sub.kit("embeddings", model, X), dtype=np.float64)
    before = split_parameters(sub.kit("parameters", model))
    what = "finetune(..., steps=8, lr=1e-2, freeze_enformer=True)"
    with quiet(sub):
        losses = losses_of(sub.call("finetune", model, handle, steps=8, lr=1e-2, freeze_enformer=True), 8, what)
    after = split_parameters(sub.kit("parameters", model))
    moved = changed(before[0], after[0])
    backpropagated = [k for k, held in split_parameters(sub.kit("holds_grad", model))[0].items() if held]
    if backpropagated and not moved:
        raise Failure(
            f"with freeze_enformer=True no trunk weight changed, but {len(backpropagated)} trunk parameters hold a gradient "
            f"(e.g. {backpropagated[0]}): every step back-propagated through the whole trunk. Pass the flag to the wrapper's "
            "forward, model(seq, target=target, freeze_enformer=freeze_enformer), which runs the trunk without gradients"
        )
    if moved:
        raise Failure(
            f"with freeze_enformer=True, {len(moved)} trunk weights changed (e.g. {moved[0]}): pass the flag to the "
            "wrapper's forward, model(seq, target=target, freeze_enformer=freeze_enformer), which runs the trunk without gradients"
        )
    if not changed(before[1], after[1]):
        raise Failure(
            "the new head's weights did not change during fine-tuning: every step needs optimizer.zero_grad(), "
            "loss.backward() and optimizer.step(), with an optimizer over the model's parameters (at least the head's)"
        )
    start = head_loss(embeddings, before[1], Y)
    check_first_loss_in_eval_mode(float(losses[0]), start, what)
    check_head_learned(start, head_loss(embeddings, after[1], Y), what, margin=0.02)
