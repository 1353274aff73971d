"""q2a: one-hot encoding of DNA -- hidden checks (autograder only)."""

from __future__ import annotations

import numpy as np
from a5kit_reference import one_hot

from a5kit.checking import Failure, case, expect
from a5kit.public_checks.q2a import check_names_the_bad_letter, check_one_hot


@case(points=0.25)
def lowercase_is_accepted(sub):
    check_one_hot(sub.call("one_hot_encode_dna", "acgTn"), "acgTn", one_hot("acgTn"), "one_hot_encode_dna('acgTn')")


@case(points=0.25)
def n_is_all_zeros(sub):
    got = expect.array(sub.call("one_hot_encode_dna", "ANNA"), "one_hot_encode_dna('ANNA')", (4, 4))
    if got[1:3].any():
        raise Failure(
            f"N must encode as all zeros (an unknown base carries no evidence for any nucleotide); your row for N is {got[1].tolist()}"
        )


@case(points=0.25)
def other_letters_raise_value_error_naming_letter_and_position(sub):
    check_names_the_bad_letter(sub, "ACGXT", "X", 3)
    check_names_the_bad_letter(sub, "acgt-a", "-", 4)  # not only letters


@case(points=1)
def long_random_sequence_matches_reference(sub):
    rng = np.random.default_rng(7)
    seq = "".join(rng.choice(list("ACGTNacgtn"), 1000))
    check_one_hot(sub.call("one_hot_encode_dna", seq), seq, one_hot(seq), "one-hot of a 1,000 bp sequence")
