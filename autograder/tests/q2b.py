"""q2b: plotting a one-hot encoding -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np
from a5kit_reference import one_hot

from a5kit.checking import case
from a5kit.public_checks.q2b import check_base_ticks, check_heatmap, check_position_label, plot_summary


@case(points=0.5)
def random_sequence_heatmap_with_labelled_axes(sub):
    rng = np.random.default_rng(11)
    seq = "".join(rng.choice(list("ACGTN"), 37, p=[0.24, 0.24, 0.24, 0.24, 0.04]))
    encoded = one_hot(seq)
    summary = plot_summary(sub, "plot_one_hot", encoded, what="plot_one_hot(one-hot of a random 37 bp sequence)")
    check_heatmap(summary, encoded, "plot_one_hot")
    check_base_ticks(summary, "plot_one_hot")
    check_position_label(summary, "plot_one_hot")
