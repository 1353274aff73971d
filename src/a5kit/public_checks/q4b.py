"""q4b: a first-layer filter as a logo matrix -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checking import Failure, case, expect


def random_filters(seed: int, n: int = 6, width: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4, width)).astype(np.float32)


def check_logo_matrix(sub, weights: np.ndarray, index: int, what: str) -> None:
    expected = np.asarray(weights[index], dtype=np.float64).T
    got = expect.array(sub.call("logo_matrix", weights, index), what, expected.shape)  # "transposed?"
    if np.allclose(got, expected, atol=1e-6):
        return
    for other in range(len(weights)):
        if other != index and np.allclose(got, weights[other].T, atol=1e-6):
            raise Failure(f"{what}: this is filter {other}, not filter {index} (indices are 0-based: weights[index])")
    if np.allclose(got, expected[::-1], atol=1e-6):
        raise Failure(f"{what}: the positions are reversed; row i must be position i of the filter")
    if np.allclose(got, np.asarray(weights[index], dtype=np.float64).reshape(-1, 4), atol=1e-6):
        raise Failure(
            f"{what}: reshape(-1, 4) keeps the (4, width) order of the numbers and only cuts them into rows of 4, "
            "mixing bases and positions; transpose instead, weights[index].T"
        )
    expect.close(got, expected, what, atol=1e-6)


@case(points=0.5)
def logo_matrix_is_positions_by_acgt(sub):
    weights = random_filters(4)
    check_logo_matrix(sub, weights, 2, "logo_matrix(weights (6, 4, 7), 2)")
