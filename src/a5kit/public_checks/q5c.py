"""q5c: evaluating the fine-tuned model with Pearson r per track -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.plain import Handle
from a5kit.public_checks.q5a import BIN, make_adapter, task_data


def pearson_per_track(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Reference: Pearson r of each track over all windows and bins pooled, float64 (tracks,)."""
    p = np.asarray(predictions, dtype=np.float64).reshape(-1, predictions.shape[-1])
    t = np.asarray(targets, dtype=np.float64).reshape(-1, targets.shape[-1])
    p, t = p - p.mean(axis=0), t - t.mean(axis=0)
    return (p * t).sum(axis=0) / np.sqrt((p * p).sum(axis=0) * (t * t).sum(axis=0))


def per_window_mean(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.mean([pearson_per_track(p, t) for p, t in zip(predictions, targets)], axis=0)


def check_evaluate(sub, model: Handle, X: np.ndarray, Y: np.ndarray, what: str) -> None:
    """evaluate(model, X, Y) must equal the reference r computed from the model's eval-mode predictions."""
    tracks, bins = Y.shape[-1], Y.shape[1]
    try:
        value = sub.call("evaluate", model, X, Y)
    except Failure:
        raise
    except Exception as err:
        crop = sub.kit("crop", model)
        if crop != bins:
            raise Failure(
                f"{what}: {err}. The wrapped Enformer crops its output to {crop} bins, the targets have {bins}: set the crop "
                "to the targets' bins before predicting, model.enformer.set_target_length(targets.shape[1])"
            ) from None
        raise
    got = expect.array(value, what, None).astype(np.float64)
    if got.shape != (tracks,):
        hint = ": one r per track, not one for all tracks together" if got.size == 1 else ""
        raise Failure(f"{what}: expected shape ({tracks},), one Pearson r per track, got {got.shape}{hint}")
    if sub.kit("crop", model) != bins:
        raise Failure(
            f"{what}: after evaluate the wrapped Enformer still crops its output to {sub.kit('crop', model)} bins, not the "
            f"targets' {bins}: call model.enformer.set_target_length(targets.shape[1]) before predicting"
        )
    preds = np.asarray(sub.kit("forward", model, X), dtype=np.float64)  # after evaluate: its crop is set
    expected = pearson_per_track(preds, Y)
    if np.allclose(got, expected, atol=1e-4):
        return
    if np.allclose(got, expected**2, atol=1e-4):
        raise Failure(f"{what}: got r squared ({np.round(got, 4).tolist()}); return r itself, which has a sign")
    if np.allclose(got, per_window_mean(preds, Y), atol=1e-4):
        raise Failure(
            f"{what}: you averaged the r of each window; pool all bins of all windows per track, then compute one r per track"
        )
    raise Failure(
        f"{what}: got {np.round(got, 4).tolist()}, expected {np.round(expected, 4).tolist()} (Pearson r per track of the model's "
        "predictions, all windows and bins pooled): call model.eval() (dropout off) and predict under torch.no_grad() "
        "without passing a target"
    )


@case(points=1)
def evaluate_gives_pearson_r_per_track(sub):
    # The crop left at 8 bins, as after training on 8-bin targets (auto_set_target_length): evaluate must set it to 16.
    model = make_adapter(sub, num_tracks=3, seed=0, target_length=8)
    X, Y = task_data(seed=30, batch=3, length=16 * BIN)
    check_evaluate(sub, model, X, Y, "evaluate(model (crop left at 8 bins), X (3, 2048, 4), Y (3, 16, 3))")
