"""q6: variant effect -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np
from a5kit_reference import apply_variant, reverse_complement, variant_effect_expected

from a5kit import data
from a5kit.checking import Failure, case
from a5kit.public_checks.q6 import check_apply_variant, check_variant_effect, random_dna


@case(points=0.5)
def apply_variant_on_the_rs11644125_window(sub):
    window = data.CHR16_FULL
    variant = data.RS11644125
    sequence = str(data.hg38_sequence(window))
    check_apply_variant(
        sub,
        sequence,
        window.start,
        variant.pos,
        variant.ref,
        variant.alt,
        apply_variant(sequence, window.start, variant.pos, variant.ref, variant.alt),
        f"apply_variant(hg38 {window}, start={window.start}, position={variant.pos}, ref={variant.ref!r}, alt={variant.alt!r})",
    )


@case(points=0.5)
def reverse_complement_of_a_long_sequence(sub):
    seq = random_dna(41, 2000)
    got = sub.call("reverse_complement", seq)
    if got != reverse_complement(seq):
        raise Failure("reverse_complement(random 2,000 bp): wrong result (A<->T, C<->G, then reverse the order)")


@case(points=1)
def variant_effect_on_other_tracks_and_bins(sub):
    rng = np.random.default_rng(42)
    ref = rng.gamma(2.0, 1.0, size=(896, 10)).astype(np.float32)
    alt = ref.copy()
    alt[440:456, 7] *= 1.8
    alt[440:456, 2] *= 0.4
    tracks, bins = [7, 2, 9], list(range(444, 452))
    check_variant_effect(
        sub,
        ref,
        alt,
        tracks,
        bins,
        variant_effect_expected(ref, alt, tracks, bins),
        "variant_effect(ref (896, 10), alt, tracks=[7, 2, 9], bins=444..451)",
    )
