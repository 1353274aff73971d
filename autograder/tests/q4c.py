"""q4c: strongest filter -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit_reference import strongest_expected

from a5kit import models
from a5kit.checking import case
from a5kit.public_checks.q4c import check_strongest, trap


@case(points=1)
def strongest_filter_uses_absolute_weights_summed_over_the_filter(sub):
    weights = trap(31)
    check_strongest(sub, weights, strongest_expected(weights), "strongest_filter(weights (12, 4, 15))")
    filters = models.enformer_first_layer_filters()
    check_strongest(sub, filters, strongest_expected(filters), f"strongest_filter(filters {filters.shape})")
