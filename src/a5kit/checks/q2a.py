"""q2a: one-hot encoding of DNA -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.grading import Failure, case, expect

COLUMNS = "ACGT"


def reference_one_hot(sequence: str) -> np.ndarray:
    out = np.zeros((len(sequence), 4), dtype=np.float32)
    for i, base in enumerate(sequence.upper()):
        if base in COLUMNS:
            out[i, COLUMNS.index(base)] = 1
    return out


@case(points=1)
def returns_length_by_4_in_acgt_column_order(sub):
    got = sub.call("one_hot_encode_dna", "ACGTTG")
    expect.close(got, reference_one_hot("ACGTTG"), "one_hot_encode_dna('ACGTTG')", atol=0)


@case(points=0.5)
def returns_float32(sub):
    got = sub.call("one_hot_encode_dna", "ACGT")
    if not isinstance(got, np.ndarray) or got.dtype != np.float32:
        kind = got.dtype if isinstance(got, np.ndarray) else type(got).__name__
        raise Failure(f"expected a numpy array of dtype float32, got {kind}")
