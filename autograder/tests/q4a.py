"""q4a: extreme tracks -- hidden checks (autograder only)."""

from __future__ import annotations

from a5kit_reference import extremes_expected

from a5kit import data, inputs, models
from a5kit.checking import case
from a5kit.public_checks.q4a import check_extremes, planted_predictions


@case(points=0.5)
def finds_planted_extremes_in_another_shape(sub):
    predictions, _ = planted_predictions(21, bins=896, tracks=60)
    check_extremes(
        sub, predictions, extremes_expected(predictions), "track_extremes(predictions (896, 60) with planted extremes)"
    )


@case(points=1)
def extremes_of_enformer_chr11_predictions(sub):
    sequence = data.hg38_sequence(data.CHR11_WINDOW)
    predictions = models.enformer_predict(sequence, target_length=inputs.CHR11_TARGET_LENGTH)
    check_extremes(
        sub,
        predictions,
        extremes_expected(predictions),
        f"track_extremes(Enformer predictions {predictions.shape} of {data.CHR11_WINDOW})",
    )
