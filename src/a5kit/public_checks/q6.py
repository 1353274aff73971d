"""q6: a variant's effect on Enformer's predictions -- public checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.checking.submission import StudentError
from a5kit.public_checks import stored


def random_dna(seed: int, length: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=length))


def check_apply_variant(
    sub, sequence: str, start: int, position: int, ref: str, alt: str, want: str, what: str
) -> None:
    """apply_variant(...) returns ``want``; a failure says which offset the student changed."""
    expected_at = position - 1 - start
    try:
        got = sub.call("apply_variant", sequence, start, position, ref, alt)
    except StudentError as err:
        if isinstance(err.error, ValueError):
            raise Failure(
                f"{what}: raised {err.error!r:.120} although the base at offset position - 1 - start = {expected_at} is {ref!r}; "
                "dbSNP positions are 1-based: an off-by-one offset (position - start) reads the wrong base"
            ) from None
        raise
    if not isinstance(got, str):
        raise Failure(f"{what}: expected a str, got {type(got).__name__}")
    if got == want:
        return
    if len(got) != len(sequence):
        raise Failure(
            f"{what}: the result has {len(got)} bases, the input {len(sequence)}: replace one base, do not insert or delete"
        )
    changed = [i for i in range(len(got)) if got[i] != sequence[i]]
    first = sequence.find(ref)
    if changed == [first] and first != expected_at:
        raise Failure(
            f"{what}: you changed the first {ref!r} of the sequence (offset {first}), not the variant's base at offset "
            f"position - 1 - start = {expected_at}: str.replace(ref, alt, 1) replaces the first match anywhere; build the result "
            "from sequence[:offset] + alt + sequence[offset + 1:]"
        )
    if changed == [expected_at + 1]:
        raise Failure(
            f"{what}: you changed offset {expected_at + 1} = position - start; dbSNP positions are 1-based, so "
            f"the base is at offset position - 1 - start = {expected_at}"
        )
    if changed == [expected_at - 1]:
        raise Failure(
            f"{what}: you changed offset {expected_at - 1}, one before the variant; the base is at offset "
            f"position - 1 - start = {expected_at}"
        )
    raise Failure(
        f"{what}: expected exactly one change, {ref}->{alt} at offset {expected_at}; your result differs from "
        f"the input at offsets {changed[:10]}"
    )


# start=1000, position=1006 (1-based) -> offset 5, a C; the C at offset 1 comes first, so replacing the
# first match is caught here, and offsets 4 and 6 are not C, so 0/1-based slips raise. Its answer is stored.
APPLY_VARIANT_INPUT: tuple[str, int, int, str, str] = ("ACAAACAAAAGTTTT", 1000, 1006, "C", "T")
REVERSE_COMPLEMENT_INPUT = "AACGTTTGCN"


@case(points=1)
def apply_variant_changes_the_base_at_the_1_based_position(sub):
    seq, start, position, ref, alt = APPLY_VARIANT_INPUT
    check_apply_variant(
        sub,
        seq,
        start,
        position,
        ref,
        alt,
        str(stored.value("q6.apply_variant.value")),
        f"apply_variant({seq!r}, start={start}, position={position}, ref={ref!r}, alt={alt!r})",
    )


@case(points=0.5)
def apply_variant_raises_value_error_when_the_reference_base_differs(sub):
    seq = APPLY_VARIANT_INPUT[0]
    what = f"apply_variant({seq!r}, start=1000, position=1006, ref='G', alt='T')"
    try:
        got = sub.call("apply_variant", seq, 1000, 1006, "G", "T")
    except StudentError as err:
        if isinstance(err.error, ValueError):
            return
        raise Failure(
            f"{what}: raised {type(err.error).__name__}; raise ValueError when the sequence's base is not ref (here it is 'C', not 'G')"
        ) from None
    raise Failure(
        f"{what}: returned {got!r:.40} instead of raising ValueError: the base at that position is 'C', not "
        f"'G' -- check it before you change it (it catches 0/1-based slips)"
    )


REVERSE_COMPLEMENT_MISTAKES: dict[str, str] = {
    "reversed_only": "reversed but not complemented",
    "complemented_only": "complemented but not reversed",
}


@case(points=0.5)
def reverse_complement_of_a_short_sequence(sub):
    seq = REVERSE_COMPLEMENT_INPUT
    got = sub.call("reverse_complement", seq)
    want = str(stored.value("q6.reverse_complement.value"))
    if got != want:
        mistakes = stored.mistakes("q6.reverse_complement")
        hint = next(
            (f": {text}" for name, text in REVERSE_COMPLEMENT_MISTAKES.items() if got == str(mistakes[name])), ""
        )
        raise Failure(f"reverse_complement({seq!r}): got {got!r}, expected {want!r}{hint}")


def check_variant_effect(
    sub,
    ref_pred: np.ndarray,
    alt_pred: np.ndarray,
    tracks: list[int],
    bins: list[int],
    expected: dict[str, Any],
    what: str,
) -> None:
    """variant_effect(...) equals ``expected["value"]``; ``expected.get("swapped")`` is the answer with tracks and bins swapped."""
    want = np.asarray(expected["value"], dtype=np.float64)
    try:
        value = sub.call("variant_effect", ref_pred, alt_pred, tracks, bins)
    except StudentError as err:
        if isinstance(err.error, IndexError):
            raise Failure(
                f"{what}: raised {err.error!r:.120}: the predictions have shape (bins, tracks) = {ref_pred.shape}; "
                "index them as pred[bins][:, tracks] (rows are bins), not transposed"
            ) from None
        raise
    got = expect.array(value, what, None).reshape(-1)
    if got.shape != want.shape:
        raise Failure(f"{what}: expected one value per track, shape {want.shape}, got {got.shape}")
    if np.allclose(got, want, rtol=1e-4, atol=1e-5):
        return
    if np.allclose(got, -want, rtol=1e-4, atol=1e-5):
        raise Failure(
            f"{what}: the sign is flipped: the effect is alt - ref (positive: the alternative allele increases the signal)"
        )
    swapped = expected.get("swapped")
    if swapped is not None and swapped.shape == got.shape and np.allclose(got, swapped, rtol=1e-4, atol=1e-5):
        raise Failure(
            f"{what}: tracks and bins are swapped: the predictions have shape (bins, tracks), index pred[bins][:, tracks]"
        )
    if np.allclose(got, want / len(bins), rtol=1e-4, atol=1e-5):
        raise Failure(f"{what}: this is the mean over the bins; sum alt - ref over the given bins")
    named = {
        "absolute": "this is the sum of |alt - ref|: keep the sign (a decrease is negative), sum alt - ref",
        "all_bins": "this sums over every bin; sum only over the given bins, pred[bins]",
    }
    for name, mistake in (expected.get("mistakes") or {}).items():
        if name in named and np.shape(mistake) == got.shape and np.allclose(got, mistake, rtol=1e-4, atol=1e-5):
            raise Failure(f"{what}: {named[name]}")
    expect.close(got, want, what)


def variant_effect_input() -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """(ref, alt, tracks, bins) of the public case; its answer is stored."""
    rng = np.random.default_rng(8)
    ref = rng.gamma(2.0, 1.0, size=(896, 6)).astype(np.float32)
    alt = (ref * rng.uniform(0.5, 1.5, size=ref.shape)).astype(np.float32)
    return ref, alt, [4, 1], [446, 447, 448]


@case(points=1)
def variant_effect_sums_alt_minus_ref_over_the_bins(sub):
    ref, alt, tracks, bins = variant_effect_input()
    expected = {
        "value": stored.value("q6.variant_effect.value"),
        "swapped": None,
        "mistakes": stored.mistakes("q6.variant_effect"),
    }
    check_variant_effect(
        sub,
        ref,
        alt,
        tracks,
        bins,
        expected,
        "variant_effect(ref (896, 6), alt (896, 6), tracks=[4, 1], bins=[446, 447, 448])",
    )
