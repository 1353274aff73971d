"""q4b: logo matrix -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit import models
from a5kit.checking import case
from a5kit.public_checks.q4b import check_logo_matrix


@case(points=0.5)
def logo_matrix_of_enformer_filters(sub):
    filters = models.enformer_first_layer_filters()
    for index in (0, len(filters) - 1):
        check_logo_matrix(sub, filters, index, f"logo_matrix(filters {filters.shape}, {index})")
