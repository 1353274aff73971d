"""q4d: closest filter -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit_reference import closest_expected

from a5kit import models
from a5kit.checking import case
from a5kit.public_checks.q4d import MYOD1_MOTIF, check_closest, planted


@case(points=1)
def closest_filter_scores_both_strands(sub):
    weights = planted(17, MYOD1_MOTIF, strand="-")
    weights[2] = planted(18, MYOD1_MOTIF[:11] + "TTTT", strand="+")[6] * 0.8  # a weaker forward decoy
    check_closest(
        sub,
        weights,
        MYOD1_MOTIF,
        closest_expected(weights, MYOD1_MOTIF),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r}) with the best match on the reverse strand",
    )


@case(points=0.25)
def closest_filter_slides_along_the_motif(sub):
    weights = planted(19, MYOD1_MOTIF, strand="+", offset=5)
    weights[3] = planted(20, MYOD1_MOTIF[:7] + "TTTTTTTT", strand="+")[6] * 0.8  # a decoy that only wins at offset 0
    check_closest(
        sub,
        weights,
        MYOD1_MOTIF,
        closest_expected(weights, MYOD1_MOTIF),
        f"closest_filter(weights (12, 4, 15), {MYOD1_MOTIF!r}) with the best match at an offset",
    )


@case(points=0.5)
def closest_filter_on_enformer_filters(sub):
    filters = models.enformer_first_layer_filters()
    check_closest(
        sub,
        filters,
        MYOD1_MOTIF,
        closest_expected(filters, MYOD1_MOTIF),
        f"closest_filter(filters {filters.shape}, {MYOD1_MOTIF!r})",
    )
