"""q5b: the fine-tuning loop -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np

from a5kit.checks.q5a import make_adapter, split_parameters
from a5kit.checks.q5b import batches, changed, losses_of
from a5kit.grading import Failure, case


@case(points=1)
def loss_falls_over_the_steps(sub):
    steps = 20
    model = make_adapter(sub, num_tracks=3, seed=3)
    losses = losses_of(sub.call("finetune", model, batches(sub, seed=40, n=1, batch=2), steps=steps, lr=3e-3, freeze_enformer=True),
                       steps, f"finetune(model, [one batch], steps={steps}, lr=3e-3)")
    first, last = losses[:5].mean(), losses[-5:].mean()
    if not last < first - 0.1:  # the reference lowers it by 0.4-0.5 (tests/test_checks_finetune.py)
        raise Failure(
            f"training the head on one fixed batch for {steps} steps with lr=3e-3 should lower the Poisson loss by more than 0.1 "
            f"(mean of the first 5 steps {first:.4f}, of the last 5 {last:.4f}): does optimizer.step() run every step, "
            "with the lr passed in, and is the loss the wrapper's (model(seq, target=target))?"
        )


@case(points=1)
def unfrozen_trunk_is_trained_too(sub):
    model = make_adapter(sub, num_tracks=3, seed=4)
    before = split_parameters(sub.kit("parameters", model))
    losses_of(sub.call("finetune", model, batches(sub, seed=50, n=2), steps=2, lr=1e-3, freeze_enformer=False), 2,
              "finetune(..., steps=2, freeze_enformer=False)")
    after = split_parameters(sub.kit("parameters", model))
    trainable = [k for k in before[0] if "stem.0." in k or "transformer." in k]
    moved = changed({k: before[0][k] for k in trainable}, after[0])
    if len(moved) < len(trainable) // 2:
        raise Failure(
            f"with freeze_enformer=False only {len(moved)} of {len(trainable)} trunk weights (first convolution and "
            "transformer) changed: pass freeze_enformer to the wrapper's forward, give the optimizer every parameter that "
            "requires grad, not only the head's, and call optimizer.step() every step"
        )
    if not changed(before[1], after[1]):
        raise Failure("with freeze_enformer=False the new head's weights did not change: does optimizer.step() run?")
