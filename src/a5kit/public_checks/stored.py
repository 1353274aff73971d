"""Expected values of the public checks, precomputed for their fixed inputs.

The public checks compare a student's answer with values stored in ``public_expected.npz`` next
to this module, never with reference code: the reference implementations stay with the
instructor (``autograder/tests/reference.py``), and ``make release`` runs them on the public
inputs to regenerate the file (a test checks it is up to date). Each key is
``<question>.<case input>.<what>``, e.g. ``q1a.unmasked.weights``; the wrong answers a check
recognises are stored too (``q1a.unmasked.mistake.no_scale``), so its messages can name them.
"""

from __future__ import annotations

import functools
import io
import zipfile
from importlib.resources import files

import numpy as np

FILENAME = "public_expected.npz"
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip timestamps: the same values give the same bytes


class StoredValueMissing(KeyError):
    """A public check asked for a value the shipped file does not hold: the package is out of date."""


@functools.cache
def _all() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO((files("a5kit.public_checks") / FILENAME).read_bytes()), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def value(key: str) -> np.ndarray:
    """The stored array ``key``; a clear error when the package predates it."""
    try:
        return _all()[key]
    except KeyError:
        raise StoredValueMissing(
            f"{key} is not in a5kit/public_checks/{FILENAME}: the a5kit package is out of date; reinstall it (instructors: `make release`)"
        ) from None


def mistakes(prefix: str) -> dict[str, np.ndarray]:
    """The stored wrong answers of one case input, by mistake name (``<prefix>.mistake.<name>``)."""
    start = f"{prefix}.mistake."
    return {key[len(start) :]: array for key, array in _all().items() if key.startswith(start)}


def write(arrays: dict[str, np.ndarray], path) -> None:
    """Write ``arrays`` as an ``.npz`` with fixed timestamps and sorted keys (reproducible bytes)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            array = np.asarray(arrays[key])
            if array.dtype.kind == "O":
                raise TypeError(f"{key}: object arrays need pickle; store numbers or strings")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            zf.writestr(
                zipfile.ZipInfo(f"{key}.npy", FIXED_TIME), buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED
            )
