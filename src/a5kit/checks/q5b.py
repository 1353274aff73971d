"""q5b: the fine-tuning loop, with the trunk frozen or not -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checks.q5a import BIN, make_adapter, split_parameters, task_data
from a5kit.grading import Failure, case
from a5kit.grading.plain import Handle


def batches(sub, seed: int, n: int, batch: int = 1, bins: int = 16, num_tracks: int = 3) -> Handle:
    """``n`` (sequence, target) pairs of float32 tensors, made and kept in the student's process (a list-like Handle)."""
    sub.kit("manual_seed", seed)  # dropout draws from torch's global generator: the same run every time
    pairs = [task_data(seed=seed + i, batch=batch, length=bins * BIN, num_tracks=num_tracks) for i in range(n)]
    return sub.kit("tensor_batches", pairs)


def losses_of(value, steps: int, what: str) -> np.ndarray:
    """``finetune``'s answer: a list of ``steps`` finite Python floats."""
    if isinstance(value, np.ndarray) and value.ndim == 0 or isinstance(value, float):
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


@case(points=1)
def finetune_returns_one_float_loss_per_step(sub):
    model = make_adapter(sub, num_tracks=3)
    value = sub.call("finetune", model, batches(sub, seed=10, n=2), steps=3, lr=1e-3, freeze_enformer=True)
    losses_of(value, 3, "finetune(model, batches (2 of them), steps=3, lr=1e-3)")


@case(points=1)
def frozen_trunk_stays_fixed_while_the_head_learns(sub):
    model = make_adapter(sub, num_tracks=3)
    before = split_parameters(sub.kit("parameters", model))
    losses_of(sub.call("finetune", model, batches(sub, seed=20, n=2), steps=3, lr=1e-2, freeze_enformer=True), 3,
              "finetune(..., steps=3, freeze_enformer=True)")
    after = split_parameters(sub.kit("parameters", model))
    moved = changed(before[0], after[0])
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
