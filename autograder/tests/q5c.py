"""q5c: evaluation -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit.checking import Failure, case
from a5kit.public_checks.q5a import BIN, make_adapter, task_data
from a5kit.public_checks.q5c import check_evaluate


@case(points=1)
def evaluate_works_on_an_adapter_that_still_crops_to_896_bins(sub):
    # A freshly wrapped Enformer crops its output to 896 bins until a target of another length
    # passes through it (auto_set_target_length); the held-out windows are shorter.
    model = make_adapter(sub, num_tracks=2, seed=2, target_length=None)
    X, Y = task_data(seed=60, batch=2, length=16 * BIN, num_tracks=2)
    what = "evaluate(a freshly wrapped Enformer (crop 896 bins), X (2, 2048, 4), Y (2, 16, 2))"
    try:
        check_evaluate(sub, model, X, Y, what)
    except Failure:
        raise
    except Exception as err:
        if "target length" in str(err):
            raise Failure(
                f"{what}: {err}. The wrapped Enformer still crops its output to 896 bins: set the crop to the targets' bins "
                "first, model.enformer.set_target_length(targets.shape[1])"
            ) from None
        raise
