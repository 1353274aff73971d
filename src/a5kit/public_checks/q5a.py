"""q5a: a new head on Enformer's trunk with HeadAdapterWrapper -- public checks.

Also the helpers that q5b and q5c share: tiny inputs, and a tiny Enformer wrapped by the
student's ``make_head_adapter`` in the student's process (``sub.kit``), so the same checks run in
the kernel and across the grader's process boundary.
"""

from __future__ import annotations

import numpy as np

from a5kit import finetune_data
from a5kit.checking import Failure, case, expect
from a5kit.checking.plain import Handle

ADAPTER_TYPE = "enformer_pytorch.finetune.HeadAdapterWrapper"
TINY_DIM = 48  # a5kit.models.TINY_ENFORMER_HPARAMS["dim"]; the trunk's embeddings have 2 * dim features
BIN = finetune_data.BIN_SIZE


def task_data(
    seed: int, batch: int, length: int, num_tracks: int = finetune_data.NUM_TRACKS
) -> tuple[np.ndarray, np.ndarray]:
    """Random one-hot sequences (batch, length, 4) and their motif-count targets (batch, length // 128, num_tracks).

    The targets are the kit's per-bin motif counts (cycled when num_tracks is not 3), plus 0.5 so
    that no track is all zeros, as float32.
    """
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 4, size=(batch, length))
    sequences = ["".join("ACGT"[b] for b in row) for row in bases]
    X = np.eye(4, dtype=np.float32)[bases]
    counts = np.stack([finetune_data.motif_counts(s) for s in sequences])
    Y = counts[..., [i % finetune_data.NUM_TRACKS for i in range(num_tracks)]] + 0.5
    return X, Y.astype(np.float32)


def make_adapter(
    sub, num_tracks: int, seed: int = 0, target_length: int | None = -1, wrapped_check: bool = False
) -> Handle:
    """make_head_adapter(a fresh tiny Enformer, num_tracks), checked to be a HeadAdapterWrapper.

    ``wrapped_check``: also check that it wraps the Enformer passed in, not a copy (q5a's own case).

    ``target_length``: the crop of the tiny Enformer's output (-1: none; None: its default 896 bins).
    """
    enformer = sub.kit("tiny_enformer", seed=seed, target_length=target_length)
    model = sub.call("make_head_adapter", enformer, num_tracks)
    if not isinstance(model, Handle) or model.type != ADAPTER_TYPE:
        got = model.type if isinstance(model, Handle) else type(model).__name__
        raise Failure(
            f"make_head_adapter(enformer, {num_tracks}) should return an enformer_pytorch.finetune.HeadAdapterWrapper, got {got}: "
            "return HeadAdapterWrapper(enformer=enformer, num_tracks=num_tracks)"
        )
    if wrapped_check and not sub.kit("wraps", model, enformer):
        raise Failure(
            f"make_head_adapter(enformer, {num_tracks}) wraps a copy of the Enformer (copy.deepcopy?) or another model, not the one "
            "passed in: the task asks for this enformer, HeadAdapterWrapper(enformer=enformer, ...); the notebook's experiment "
            "makes the copies it needs itself"
        )
    return model


def split_parameters(params: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(trunk, new head): the wrapped Enformer's trunk parameters and the parameters the wrapper added.

    Enformer's own human/mouse output heads (``enformer._heads``) are neither: the wrapper never uses them.
    """
    trunk = {k: v for k, v in params.items() if k.startswith("enformer.") and not k.startswith("enformer._heads.")}
    head = {k: v for k, v in params.items() if not k.startswith("enformer.")}
    return trunk, head


def output(sub, model: Handle, X: np.ndarray, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """The adapter's predictions for X (eval mode, no gradients), checked for shape."""
    got = expect.array(sub.kit("forward", model, X), what, None)
    if got.shape != shape:
        hint = ""
        if got.ndim == 3 and got.shape[:2] == shape[:2]:
            hint = f": the last axis should have num_tracks = {shape[2]} outputs; pass num_tracks to HeadAdapterWrapper"
        raise Failure(f"{what}: expected shape {shape} (batch, bins, num_tracks), got {got.shape}{hint}")
    return got


@case(points=1)
def adapter_predicts_batch_by_bins_by_tracks(sub):
    model = make_adapter(sub, num_tracks=3, wrapped_check=True)
    X, _ = task_data(seed=0, batch=2, length=32 * BIN)
    preds = output(sub, model, X, "the adapter's output for a (2, 4096, 4) batch", (2, 32, 3))
    if not np.all(np.isfinite(preds)) or preds.min() < 0:
        raise Failure(
            "the adapter's predictions should be finite and non-negative (counts; the Poisson loss takes their log): "
            "keep HeadAdapterWrapper's default output_activation, a softplus"
        )
