"""q6: a variant's effect on Enformer's predictions -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.grading import Failure, case, expect
from a5kit.grading.submission import StudentError

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def reference_apply_variant(sequence: str, start: int, position: int, ref: str, alt: str) -> str:
    i = position - 1 - start
    if sequence[i] != ref:
        raise ValueError(f"reference base mismatch at {position}: {sequence[i]!r} != {ref!r}")
    return sequence[:i] + alt + sequence[i + 1 :]


def reference_reverse_complement(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def reference_variant_effect(ref_pred, alt_pred, tracks, bins) -> np.ndarray:
    ref = np.asarray(ref_pred, dtype=np.float64)
    alt = np.asarray(alt_pred, dtype=np.float64)
    return (alt[np.ix_(list(bins), list(tracks))] - ref[np.ix_(list(bins), list(tracks))]).sum(axis=0)


def random_dna(seed: int, length: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=length))


def check_apply_variant(sub, sequence: str, start: int, position: int, ref: str, alt: str, what: str) -> None:
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
    want = reference_apply_variant(sequence, start, position, ref, alt)
    if got == want:
        return
    if len(got) != len(sequence):
        raise Failure(f"{what}: the result has {len(got)} bases, the input {len(sequence)}: replace one base, do not insert or delete")
    changed = [i for i in range(len(got)) if got[i] != sequence[i]]
    if changed == [expected_at + 1]:
        raise Failure(f"{what}: you changed offset {expected_at + 1} = position - start; dbSNP positions are 1-based, so the base is at offset position - 1 - start = {expected_at}")
    if changed == [expected_at - 1]:
        raise Failure(f"{what}: you changed offset {expected_at - 1}, one before the variant; the base is at offset position - 1 - start = {expected_at}")
    raise Failure(f"{what}: expected exactly one change, {ref}->{alt} at offset {expected_at}; your result differs from the input at offsets {changed[:10]}")


@case(points=1)
def apply_variant_changes_the_base_at_the_1_based_position(sub):
    seq = "AAAAACAAAAGTTTT"
    # start=1000, position=1006 (1-based) -> offset 5, the C
    check_apply_variant(sub, seq, 1000, 1006, "C", "T", f"apply_variant({seq!r}, start=1000, position=1006, ref='C', alt='T')")


@case(points=0.5)
def apply_variant_raises_value_error_when_the_reference_base_differs(sub):
    seq = "AAAAACAAAAGTTTT"
    what = f"apply_variant({seq!r}, start=1000, position=1006, ref='G', alt='T')"
    try:
        got = sub.call("apply_variant", seq, 1000, 1006, "G", "T")
    except StudentError as err:
        if isinstance(err.error, ValueError):
            return
        raise Failure(f"{what}: raised {type(err.error).__name__}; raise ValueError when the sequence's base is not ref (here it is 'C', not 'G')") from None
    raise Failure(f"{what}: returned {got!r:.40} instead of raising ValueError: the base at that position is 'C', not 'G' -- check it before you change it (it catches 0/1-based slips)")


@case(points=0.5)
def reverse_complement_of_a_short_sequence(sub):
    seq = "AACGTTTGCN"
    got = sub.call("reverse_complement", seq)
    want = reference_reverse_complement(seq)
    if got != want:
        hint = ""
        if got == seq[::-1]:
            hint = ": reversed but not complemented"
        elif got == seq.translate(_COMPLEMENT):
            hint = ": complemented but not reversed"
        raise Failure(f"reverse_complement({seq!r}): got {got!r}, expected {want!r}{hint}")


def check_variant_effect(sub, ref_pred: np.ndarray, alt_pred: np.ndarray, tracks: list[int], bins: list[int], what: str) -> None:
    want = reference_variant_effect(ref_pred, alt_pred, tracks, bins)
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
        raise Failure(f"{what}: the sign is flipped: the effect is alt - ref (positive: the alternative allele increases the signal)")
    swapped = reference_variant_effect(np.asarray(ref_pred).T, np.asarray(alt_pred).T, bins, tracks) if max(tracks) < ref_pred.shape[0] and max(bins) < ref_pred.shape[1] else None
    if swapped is not None and swapped.shape == got.shape and np.allclose(got, swapped, rtol=1e-4, atol=1e-5):
        raise Failure(f"{what}: tracks and bins are swapped: the predictions have shape (bins, tracks), index pred[bins][:, tracks]")
    if np.allclose(got, want / len(bins), rtol=1e-4, atol=1e-5):
        raise Failure(f"{what}: this is the mean over the bins; sum alt - ref over the given bins")
    expect.close(got, want, what)


@case(points=1)
def variant_effect_sums_alt_minus_ref_over_the_bins(sub):
    rng = np.random.default_rng(8)
    ref = rng.gamma(2.0, 1.0, size=(896, 6)).astype(np.float32)
    alt = (ref * rng.uniform(0.5, 1.5, size=ref.shape)).astype(np.float32)
    check_variant_effect(sub, ref, alt, [4, 1], [446, 447, 448], "variant_effect(ref (896, 6), alt (896, 6), tracks=[4, 1], bins=[446, 447, 448])")
