"""q4c: strongest filter -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np

from a5kit import models
from a5kit.checks.q4c import filter_index, reference_strongest
from a5kit.grading import Failure, case


@case(points=1)
def strongest_filter_uses_absolute_weights_summed_over_the_filter(sub):
    rng = np.random.default_rng(31)
    weights = rng.normal(scale=0.1, size=(12, 4, 15))
    weights[3] -= 0.6  # large negative weights everywhere: strongest by |w|, weakest by signed sum
    weights[8] = 0.0
    weights[8, 2, 7] = 5.0  # one huge weight: the largest max |w|, but a small total
    weights[10] += 0.15  # small positive weights everywhere: the largest signed sum
    weights = weights.astype(np.float32)
    what = "strongest_filter(weights (12, 4, 15))"
    want = reference_strongest(weights)
    got = filter_index(sub.call("strongest_filter", weights), 12, what)
    if got == want:
        filters = models.enformer_first_layer_filters()
        got = filter_index(sub.call("strongest_filter", filters), len(filters), f"strongest_filter(filters {filters.shape})")
        want = reference_strongest(filters)
        if got == want:
            return
    hint = ""
    if got == int(weights.astype(np.float64).sum(axis=(1, 2)).argmax()):
        hint = ": that is the largest signed sum; use absolute values, sum of |w|"
    elif got == int(np.abs(weights).max(axis=(1, 2)).argmax()):
        hint = ": that is the filter with the single largest |w|; sum |w| over all bases and positions"
    raise Failure(f"{what}: got {got}, expected {want}{hint}")
