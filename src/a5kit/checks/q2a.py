"""q2a: one-hot encoding of DNA -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checks import stored
from a5kit.checking import expect
from a5kit.checking import Failure, case

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


PUBLIC_SEQUENCES = ("ACGTTG",)  # their one-hot encodings are stored


@case(points=1)
def returns_length_by_4_in_acgt_column_order(sub):
    for sequence in PUBLIC_SEQUENCES:
        check_one_hot(sub.call("one_hot_encode_dna", sequence), sequence, stored.value(f"q2a.{sequence}.value"), f"one_hot_encode_dna({sequence!r})")


@case(points=0.5)
def returns_float32(sub):
    got = sub.call("one_hot_encode_dna", "ACGT")
    if not isinstance(got, np.ndarray) or got.dtype != np.float32:
        kind = got.dtype if isinstance(got, np.ndarray) else type(got).__name__
        raise Failure(f"expected a numpy array of dtype float32, got {kind}")
