"""q5a: the head adapter -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit.checking import Failure, case
from a5kit.public_checks.q5a import BIN, TINY_DIM, make_adapter, output, split_parameters, task_data


@case(points=1)
def adapter_wraps_the_given_enformer_with_a_linear_head_of_num_tracks(sub):
    seed, num_tracks = 1, 5
    model = make_adapter(sub, num_tracks=num_tracks, seed=seed, wrapped_check=True)
    trunk, head = split_parameters(sub.kit("parameters", model))
    given, _ = split_parameters(
        {f"enformer.{k}": v for k, v in sub.kit("parameters", sub.kit("tiny_enformer", seed=seed)).items()}
    )
    if set(trunk) != set(given) or any((trunk[k] != given[k]).any() for k in given):
        raise Failure(
            "the adapter's trunk is not the Enformer passed in: wrap the given model "
            "(HeadAdapterWrapper(enformer=enformer, ...)), do not build or load another"
        )
    expected = (2 * TINY_DIM + 1) * num_tracks  # one linear layer from the 2 * dim embedding features to num_tracks
    got = sum(v.size for v in head.values())
    if got != expected:
        raise Failure(
            f"the new head has {got} parameters; a linear layer from the trunk's {2 * TINY_DIM} features to "
            f"num_tracks={num_tracks} has {expected}"
        )
    X, _ = task_data(seed=1, batch=1, length=16 * BIN)
    output(
        sub, model, X, f"the adapter's output for a (1, 2048, 4) batch (num_tracks={num_tracks})", (1, 16, num_tracks)
    )
