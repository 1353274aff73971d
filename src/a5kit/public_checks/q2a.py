"""q2a: one-hot encoding of DNA -- public checks."""

from __future__ import annotations

import re

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.submission import StudentError
from a5kit.public_checks import stored

COLUMNS = "ACGT"


def check_one_hot(value, sequence: str, expected: np.ndarray, what: str) -> None:
    """``value`` must equal ``expected``, the one-hot of ``sequence``; says what is wrong when it is not
    (transposed, columns in another order, N not zeros)."""
    got = expect.array(value, what, expected.shape)  # "transposed?" when it is (4, L)
    if np.array_equal(got, expected):
        return
    # The same encoding with the columns in another order?
    order = []
    for j in range(4):
        same = [k for k in range(4) if np.array_equal(got[:, j], expected[:, k])]
        order.append(COLUMNS[same[0]] if len(same) == 1 else "?")
    if "?" not in order and len(set(order)) == 4:
        raise Failure(f"{what}: your columns are {', '.join(order)}; the columns must be A, C, G, T in that order")
    unknown = np.array([b not in COLUMNS for b in sequence.upper()], dtype=bool)
    if unknown.any() and np.array_equal(got[~unknown], expected[~unknown]):
        i = int(np.argmax(unknown & got.any(axis=1)))
        raise Failure(f"{what}: the row for N (position {i}) is {got[i].tolist()}; N must encode as all zeros")
    expect.close(got, expected, what, atol=0)


LOWERCASE = "gaTtaca"  # soft-masked (lowercase) bases mean the same bases; no N
WITH_N = "CNGNT"  # upper case, with N
BAD_LETTER = ("ACGTNU", "U", 5)  # a sequence, its invalid character and that character's 0-based position
PUBLIC_SEQUENCES = ("ACGTTG",)  # the column-order case's inputs
STORED_SEQUENCES = (*PUBLIC_SEQUENCES, LOWERCASE, WITH_N)  # their one-hot encodings are stored


def call_encoder(sub, sequence: str, what: str, problem: str):
    """The student's one_hot_encode_dna(sequence); an exception becomes a failure that says ``problem``."""
    try:
        return sub.call("one_hot_encode_dna", sequence)
    except StudentError as err:
        if isinstance(err.error, NotImplementedError):
            raise
        raise Failure(f"{what} raised {type(err.error).__name__} ({str(err.error)[:80]}): {problem}") from None


def check_names_the_bad_letter(sub, sequence: str, letter: str, position: int) -> None:
    """one_hot_encode_dna(sequence) raises ValueError whose message names ``letter`` and its 0-based ``position``."""
    what = f"one_hot_encode_dna({sequence!r})"
    text = expect.raised(
        sub,
        "one_hot_encode_dna",
        (sequence,),
        ValueError,
        what,
        f"ValueError naming {letter!r} and its position {position}",
        f"ValueError naming {letter!r} at position {position}: only A, C, G, T and N (either case) are bases",
    )
    if not re.search(rf"(?<![A-Za-z]){re.escape(letter)}(?![A-Za-z])", text):
        raise Failure(f"{what}: the ValueError should name the invalid character {letter!r}; it says {text!r}")
    if not re.search(rf"(?<!\d){position}(?!\d)", text):
        hint = (
            f" ({position + 1} is its 1-based position: positions are 0-based)"
            if re.search(rf"(?<!\d){position + 1}(?!\d)", text)
            else ""
        )
        raise Failure(
            f"{what}: the ValueError should give the 0-based position {position} of {letter!r}; it says {text!r}{hint}"
        )


@case(points=1)
def returns_length_by_4_in_acgt_column_order(sub):
    for sequence in PUBLIC_SEQUENCES:
        check_one_hot(
            sub.call("one_hot_encode_dna", sequence),
            sequence,
            stored.value(f"q2a.{sequence}.value"),
            f"one_hot_encode_dna({sequence!r})",
        )


@case(points=0.5)
def returns_float32(sub):
    got = sub.call("one_hot_encode_dna", "ACGT")
    if not isinstance(got, np.ndarray) or got.dtype != np.float32:
        kind = got.dtype if isinstance(got, np.ndarray) else type(got).__name__
        raise Failure(f"expected a numpy array of dtype float32, got {kind}")


@case(points=0.25)
def lowercase_letters_mean_the_same_bases(sub):
    what = f"one_hot_encode_dna({LOWERCASE!r})"
    got = call_encoder(
        sub,
        LOWERCASE,
        what,
        "lowercase letters are bases too (soft-masked repeats in FASTA files): accept them, e.g. with sequence.upper()",
    )
    expected = stored.value(f"q2a.{LOWERCASE}.value")
    arr = expect.array(got, what, expected.shape)
    lower = np.array([b.islower() for b in LOWERCASE])
    if np.array_equal(arr[~lower], expected[~lower]) and not np.array_equal(arr[lower], expected[lower]):
        raise Failure(
            f"{what}: the rows of the lowercase letters are wrong ({arr[lower].tolist()}); lowercase letters "
            f"mean the same bases as uppercase ones (use sequence.upper())"
        )
    check_one_hot(arr, LOWERCASE, expected, what)


@case(points=0.25)
def n_becomes_a_row_of_zeros(sub):
    what = f"one_hot_encode_dna({WITH_N!r})"
    got = call_encoder(sub, WITH_N, what, "N is an unknown base, not an error: it becomes a row of zeros")
    check_one_hot(got, WITH_N, stored.value(f"q2a.{WITH_N}.value"), what)


@case(points=0.25)
def another_letter_raises_value_error_naming_it_and_its_position(sub):
    check_names_the_bad_letter(sub, *BAD_LETTER)
