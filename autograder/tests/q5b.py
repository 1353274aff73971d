"""q5b: the fine-tuning loop -- hidden checks (autograder only).

The loss is recomputed on the trusted side: the tiny trunk's embeddings of the batch are computed
when the autograder is built (``@precomputed``, torch on the instructor's machine), the head's
weights come from the student's process as plain arrays, and the Poisson loss is evaluated in
numpy. A loop that fabricates falling losses, perturbs the head at random, or replaces the kit's
probes in its own kernel cannot make that loss fall.
"""

from __future__ import annotations

import numpy as np

from a5kit.checking import Failure, case
from a5kit.grader.precomputed import precomputed
from a5kit.public_checks.q5a import make_adapter, split_parameters, task_data
from a5kit.public_checks.q5b import (
    HEAD_BIAS,
    HEAD_WEIGHT,
    batches,
    changed,
    check_first_loss_in_eval_mode,
    check_head_learned,
    head_loss,
    losses_of,
    quiet,
)

FALL_SEED, FALL_BATCH_SEED, FALL_STEPS, FALL_LR = 3, 40, 20, 3e-3
GRADIENT_AGREEMENT = 0.95  # share of the head's weights an Adam step moves against the gradient (measured: 1.0)
TRUNK_SEED, TRUNK_BATCH_SEED = 6, 60
# Share of the trunk's clearly signed weights that a first unfrozen Adam step moves against the eval-mode gradient.
# Training runs with dropout on, so its gradient differs a little: measured 0.907-0.922 over four dropout draws
# (this case: tiny Enformer seed 6, one 16-bin batch, the reference loop); the gradient-free fake with +-lr signs 0.496.
TRUNK_AGREEMENT = 0.75


def _fall_data() -> tuple[np.ndarray, np.ndarray]:
    return task_data(seed=FALL_BATCH_SEED, batch=2, length=16 * 128)


@precomputed
def fall_embeddings() -> dict[str, np.ndarray]:
    """The eval-mode embeddings (2, 16, 96) of the loss_falls batch by tiny Enformer seed FALL_SEED (uncropped)."""
    import torch

    from a5kit.kernel_server.probes import embeddings, tiny_enformer

    X, _ = _fall_data()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        E = embeddings(tiny_enformer(seed=FALL_SEED, target_length=-1), X)
    finally:
        torch.set_num_threads(threads)
    return {"embeddings": E.astype(np.float32)}


def _trunk_data() -> tuple[np.ndarray, np.ndarray]:
    return task_data(seed=TRUNK_BATCH_SEED, batch=1, length=16 * 128)


@precomputed
def trunk_gradient() -> dict[str, np.ndarray]:
    """A fixed head for tiny Enformer seed TRUNK_SEED, and the signs of the eval-mode gradient of the wrapper's loss on
    the _trunk_data batch with respect to the trunk's weights, where it is clearly non-zero (flat indices over the
    trunk's parameters in sorted name order). Needs torch and enformer_pytorch: computed when the autograder is built."""
    import torch
    from enformer_pytorch.finetune import HeadAdapterWrapper

    from a5kit.kernel_server.probes import set_parameters, tiny_enformer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = HeadAdapterWrapper(enformer=tiny_enformer(seed=TRUNK_SEED, target_length=-1), num_tracks=3)
        rng = np.random.default_rng(TRUNK_SEED)
        shape = tuple(dict(model.named_parameters())[HEAD_WEIGHT].shape)
        head = {
            HEAD_WEIGHT: rng.normal(scale=0.05, size=shape).astype(np.float32),
            HEAD_BIAS: np.zeros(shape[0], np.float32),
        }
        set_parameters(model, head)
        X, Y = _trunk_data()
        model.eval()
        model(torch.as_tensor(X), target=torch.as_tensor(Y), freeze_enformer=False).backward()
        trunk = dict(sorted(split_parameters(dict(model.named_parameters()))[0].items()))
        g = np.concatenate(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).detach().double().numpy().ravel()
                for p in trunk.values()
            ]
        )
    finally:
        torch.set_num_threads(threads)
    clear = np.flatnonzero(np.abs(g) > 1e-3 * np.abs(g).max())
    return {
        "head_weight": head[HEAD_WEIGHT],
        "head_bias": head[HEAD_BIAS],
        "index": clear.astype(np.int64),
        "sign": np.sign(g[clear]).astype(np.int8),
        "names": np.array(list(trunk)),
        "sizes": np.array([p.numel() for p in trunk.values()]),
    }


def check_trunk_step_follows_the_gradient(sub) -> None:
    """One unfrozen step from a head the grader fixed: Adam moves each trunk weight by about trunk_lr against the sign of
    its gradient, which the build recorded (eval mode); trunk noise of the right size, made without a gradient, does not."""
    ref = trunk_gradient()
    model = make_adapter(sub, num_tracks=3, seed=TRUNK_SEED)
    sub.kit("set_parameters", model, {HEAD_WEIGHT: ref["head_weight"], HEAD_BIAS: ref["head_bias"]})
    before = split_parameters(sub.kit("parameters", model))[0]
    names = [str(n) for n in ref["names"]]
    if sorted(before) != names or [before[n].size for n in names] != ref["sizes"].tolist():
        raise RuntimeError(
            "the tiny Enformer's parameters differ from the ones the autograder was built with: rebuild it"
        )
    X, Y = _trunk_data()
    sub.kit("manual_seed", TRUNK_BATCH_SEED)
    what = "finetune(model, [one batch], steps=1, lr=1e-3, freeze_enformer=False)"
    with quiet(sub):
        losses_of(
            sub.call("finetune", model, sub.kit("tensor_batches", [(X, Y)]), steps=1, lr=1e-3, freeze_enformer=False),
            1,
            what,
        )
    after = split_parameters(sub.kit("parameters", model))[0]
    step = np.concatenate([(after[n].astype(np.float64) - before[n]).ravel() for n in names])[ref["index"]]
    moved = step != 0
    agree = float(np.mean(np.sign(step[moved]) == -ref["sign"][moved])) if moved.any() else 0.0
    if agree < TRUNK_AGREEMENT:
        raise Failure(
            f"{what}: the trunk's first step does not follow the loss's gradient ({agree:.0%} of its clearly signed weights "
            "moved against the gradient's sign; an Adam step after loss.backward() moves nearly all of them so): train the "
            "trunk with torch.optim.Adam on the gradient of the wrapper's loss, not by another rule"
        )


def head_gradient(embeddings: np.ndarray, head: dict[str, np.ndarray], targets: np.ndarray) -> dict[str, np.ndarray]:
    """The gradient of :func:`head_loss` with respect to the head's weight and bias, in numpy (float64)."""
    E = np.asarray(embeddings, dtype=np.float64)
    W, b = (np.asarray(head[k], dtype=np.float64) for k in (HEAD_WEIGHT, HEAD_BIAS))
    z = E @ W.T + b
    pred = np.logaddexp(0.0, z)
    dz = (1.0 - np.asarray(targets, dtype=np.float64) / np.maximum(pred, 1e-20)) / (1.0 + np.exp(-z)) / z.size
    dz, E = dz.reshape(-1, dz.shape[-1]), E.reshape(-1, E.shape[-1])
    return {HEAD_WEIGHT: dz.T @ E, HEAD_BIAS: dz.sum(axis=0)}


def check_first_step_follows_the_gradient(embeddings, before, after, targets, lr: float, what: str) -> None:
    """Adam's first step moves every weight by about lr against the sign of the loss's gradient; the
    gradient is recomputed here, so a loop that moves the head any other way (a fit done without the
    loss's gradient, random signs) does not pass."""
    grad = head_gradient(embeddings, before, targets)
    g = np.concatenate([grad[k].ravel() for k in (HEAD_WEIGHT, HEAD_BIAS)])
    step = np.concatenate([(np.asarray(after[k], np.float64) - before[k]).ravel() for k in (HEAD_WEIGHT, HEAD_BIAS)])
    clear = np.abs(g) > 1e-3 * np.abs(g).max()  # elements whose sign float32 and float64 agree on
    agree = float(np.mean(np.sign(step[clear]) == -np.sign(g[clear])))
    size = float(np.median(np.abs(step[clear])))
    if agree < GRADIENT_AGREEMENT or not 0.5 * lr < size < 2 * lr:
        raise Failure(
            f"{what}: the head's first step does not follow the loss's gradient ({agree:.0%} of its weights moved against "
            f"the gradient's sign, by {size:.2g} (median); one Adam step moves every weight by about lr = {lr:g} against it): "
            "compute the loss with the wrapper, loss.backward(), then optimizer.step() of torch.optim.Adam"
        )


@case(points=1)
def loss_falls_over_the_steps(sub):
    model = make_adapter(sub, num_tracks=3, seed=FALL_SEED)
    X, Y = _fall_data()
    E = fall_embeddings()["embeddings"]
    head_before = split_parameters(sub.kit("parameters", model))[1]
    what = f"finetune(model, [one batch], steps=1, lr={FALL_LR}, freeze_enformer=True)"
    with quiet(sub):
        losses_of(
            sub.call("finetune", model, sub.kit("tensor_batches", [(X, Y)]), steps=1, lr=FALL_LR, freeze_enformer=True),
            1,
            what,
        )
    check_first_step_follows_the_gradient(
        E, head_before, split_parameters(sub.kit("parameters", model))[1], Y, FALL_LR, what
    )
    model = make_adapter(sub, num_tracks=3, seed=FALL_SEED)
    head_before = split_parameters(sub.kit("parameters", model))[1]
    what = f"finetune(model, [one batch], steps={FALL_STEPS}, lr={FALL_LR}, freeze_enformer=True)"
    sub.kit("manual_seed", FALL_BATCH_SEED)
    with quiet(sub):
        losses = losses_of(
            sub.call(
                "finetune",
                model,
                sub.kit("tensor_batches", [(X, Y)]),
                steps=FALL_STEPS,
                lr=FALL_LR,
                freeze_enformer=True,
            ),
            FALL_STEPS,
            what,
        )
    head_after = split_parameters(sub.kit("parameters", model))[1]
    start, end = head_loss(E, head_before, Y), head_loss(E, head_after, Y)
    check_first_loss_in_eval_mode(float(losses[0]), start, what)
    check_head_learned(
        start, end, what, margin=0.1
    )  # the reference lowers it by 0.4-0.5 (tests/test_checks_finetune.py)
    first, last = losses[:5].mean(), losses[-5:].mean()
    if not last < first - 0.1:
        raise Failure(
            f"{what}: the head learned (recomputed loss {start:.4f} -> {end:.4f}) but the losses you returned do not fall "
            f"(mean of the first 5 {first:.4f}, of the last 5 {last:.4f}): append loss.item() of every step"
        )


@case(points=1)
def unfrozen_trunk_is_trained_too(sub):
    model = make_adapter(sub, num_tracks=3, seed=4)
    before = split_parameters(sub.kit("parameters", model))
    with quiet(sub):
        losses_of(
            sub.call("finetune", model, batches(sub, seed=50, n=2), steps=2, lr=1e-3, freeze_enformer=False),
            2,
            "finetune(..., steps=2, freeze_enformer=False)",
        )
    after = split_parameters(sub.kit("parameters", model))
    trainable = [k for k in before[0] if "stem.0." in k or "transformer." in k]
    moved = changed({k: before[0][k] for k in trainable}, after[0])
    if len(moved) < len(trainable) // 2:
        raise Failure(
            f"with freeze_enformer=False only {len(moved)} of {len(trainable)} trunk weights (first convolution and "
            "transformer) changed: pass freeze_enformer to the wrapper's forward, give the optimizer every parameter that "
            "requires grad, not only the head's (the trunk at its own, lower learning rate), and call optimizer.step() every step"
        )
    if not changed(before[1], after[1]):
        raise Failure("with freeze_enformer=False the new head's weights did not change: does optimizer.step() run?")
    # Adam moves a weight by about lr per step (never much more than 3 lr): a larger jump is not an Adam step.
    limit = 4 * 1e-3 * 2
    jumps = {
        k: float(np.abs(after[i][k].astype(np.float64) - before[i][k]).max())
        for i in (0, 1)
        for k in before[i]
        if k in after[i]
    }
    worst = max(jumps, key=jumps.get)
    if jumps[worst] > limit:
        raise Failure(
            f"with freeze_enformer=False, {worst} moved by {jumps[worst]:.3g} in 2 steps, more than 2 Adam steps at lr=1e-3 can "
            f"move a weight (about {limit:.3g} at most): update the weights only with torch.optim.Adam at the learning rates asked for"
        )
    check_trunk_step_follows_the_gradient(sub)
