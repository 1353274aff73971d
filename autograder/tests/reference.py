"""Reference implementations of the graded functions -- instructor side only, never shipped to students.

Hidden tests import them as ``a5kit_reference`` (``a5kit.checking.core.reference_module`` loads
this file next to the hidden modules), and ``make release`` runs them on the public checks' fixed
inputs to write the expected values the student package ships, ``a5kit/public_checks/public_expected.npz``
(:func:`public_expected`). In the Gradescope archive this file sits with the hidden tests, which
the student's user cannot read. Everything is computed in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from a5kit.public_checks import q1a, q1d, q2a, q2b, q3a, q4a, q4c, q4d, q6

# -- q1a: scaled dot-product attention ---------------------------------------------------------


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax with the row maximum subtracted first (stable for large scores)."""
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def scores(q: Any, k: Any, scale: float | None = None) -> np.ndarray:
    """q kᵀ times ``scale`` (default 1 / sqrt(d_k)), transposing only the last two axes of k."""
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if scale is None:
        scale = 1 / np.sqrt(q.shape[-1])
    return q @ np.swapaxes(k, -1, -2) * scale


def attention_weights(q: Any, k: Any, causal: bool = True) -> np.ndarray:
    """softmax(q kᵀ / sqrt(d_k)) over the keys, future keys masked when ``causal``."""
    s = scores(q, k)
    if causal:
        s = np.where(q1a.future_mask(*s.shape[-2:]), -np.inf, s)
    return softmax(s)


def attention(q: Any, k: Any, v: Any, causal: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(weights, output) of scaled dot-product attention."""
    weights = attention_weights(q, k, causal)
    return weights, weights @ np.asarray(v, dtype=np.float64)


def attention_mistakes(q: Any, k: Any, causal: bool) -> dict[str, np.ndarray]:
    """The weights of each mistake that ``a5kit.public_checks.q1a.MISTAKES`` names."""
    d = np.asarray(q).shape[-1]
    mask = q1a.future_mask(*scores(q, k).shape[-2:])

    def masked(s: np.ndarray) -> np.ndarray:
        return np.where(mask, -np.inf, s) if causal else s

    right = attention_weights(q, k, causal)
    found = {
        "no_scale": softmax(masked(scores(q, k, 1.0))),
        "scale_by_d": softmax(masked(scores(q, k, 1.0 / d))),
        "softmax_over_queries": softmax(masked(scores(q, k)), axis=-2),
        "transposed": np.swapaxes(right, -1, -2),
    }
    if causal:
        found["no_mask"] = softmax(scores(q, k))
        found["mask_after_softmax"] = np.where(mask, 0.0, softmax(scores(q, k)))
    else:
        found["mask_not_asked"] = attention_weights(q, k, True)
    return found


def attention_expected(q: Any, k: Any, v: Any, causal: bool) -> dict[str, Any]:
    """What ``a5kit.public_checks.q1a.check_attention`` compares with."""
    weights, output = attention(q, k, v, causal)
    return {"weights": weights, "output": output, "mistakes": attention_mistakes(q, k, causal)}


# -- q1d: attention between two words ----------------------------------------------------------


def between(tokens: Sequence[str], attentions: Any, query_word: str, key_word: str) -> np.ndarray:
    """Mean over heads of the attention from the query word's token to the key word's, per layer."""
    qi, ki = q1d.token_index(tokens, query_word), q1d.token_index(tokens, key_word)
    return np.asarray(attentions, dtype=np.float64)[:, :, qi, ki].mean(axis=1)


def _last_index(tokens: Sequence[str], word: str) -> int:
    """The last token matching ``word`` (the mistake of not stopping at the first)."""
    target = word.replace("Ġ", "").strip().lower()
    return max(i for i, token in enumerate(tokens) if token.replace("Ġ", "").strip().lower() == target)


def between_expected(tokens: Sequence[str], attentions: Any, query_word: str, key_word: str) -> dict[str, Any]:
    """The answer and the wrong answers ``a5kit.public_checks.q1d.MISTAKES`` names."""
    att = np.asarray(attentions, dtype=np.float64)
    qi, ki = q1d.token_index(tokens, query_word), q1d.token_index(tokens, key_word)
    want = att[:, :, qi, ki].mean(1)
    mistakes = {
        "reversed": att[:, :, ki, qi].mean(1),
        "summed": att[:, :, qi, ki].sum(1),
        "max": att[:, :, qi, ki].max(1),
        "head0": att[:, 0, qi, ki],
        "layers_reversed": want[::-1],
    }
    if att.shape[0] == att.shape[1]:  # then the shape cannot tell
        mistakes["mean_over_layers"] = att[:, :, qi, ki].mean(0)
    last_qi, last_ki = _last_index(tokens, query_word), _last_index(tokens, key_word)
    if (last_qi, last_ki) != (qi, ki):  # a repeated word: its last occurrence gives another value
        mistakes["last_occurrence"] = att[:, :, last_qi, last_ki].mean(1)
    return {"value": want, "mistakes": mistakes}


# -- q2a: one-hot encoding --------------------------------------------------------------------


def one_hot(sequence: str) -> np.ndarray:
    """(L, 4) float32, columns A C G T; N (and any other letter) all zeros; case-insensitive."""
    out = np.zeros((len(sequence), 4), dtype=np.float32)
    for i, base in enumerate(sequence.upper()):
        if base in "ACGT":
            out[i, "ACGT".index(base)] = 1
    return out


# -- q3a: PCA ------------------------------------------------------------------------------------


def _top2(F: np.ndarray) -> np.ndarray:
    F = F - F.mean(axis=0)
    _, _, vt = np.linalg.svd(F, full_matrices=False)
    return F @ vt[:2].T


def pca_2d(X: Any) -> np.ndarray:
    """Flatten, z-score each feature, project on the top two principal components (scikit-learn's
    StandardScaler + PCA(2) up to each sign; tests/test_checks_dna.py checks this)."""
    return _top2(q3a.standardise(X))


def unstandardised_pca_2d(X: Any) -> np.ndarray:
    """The usual mistake: PCA of the centred but not scaled features."""
    return _top2(np.asarray(X, dtype=np.float64).reshape(len(X), -1))


def pca_expected(X: Any) -> dict[str, np.ndarray]:
    return {"value": pca_2d(X), "unstandardised": unstandardised_pca_2d(X)}


# -- q4a: extreme tracks ---------------------------------------------------------------------------


def extremes(predictions: Any) -> tuple[int, int, int]:
    """(highest-mean track, lowest-mean track, highest-peak track) of predictions (bins, tracks)."""
    p = np.asarray(predictions, dtype=np.float64)
    mean = p.mean(axis=0)
    return int(mean.argmax()), int(mean.argmin()), int(p.max(axis=0).argmax())


def extremes_expected(predictions: Any) -> dict[str, tuple[int, int, int]]:
    """The answer, and the answer over the wrong axis (what a transposed reading gives)."""
    return {"value": extremes(predictions), "transposed": extremes(np.asarray(predictions).T)}


# -- q4c: strongest filter ---------------------------------------------------------------------------


def strongest(weights: Any) -> int:
    """The filter with the largest sum of absolute weights over bases and positions."""
    return int(np.abs(np.asarray(weights, dtype=np.float64)).sum(axis=(1, 2)).argmax())


def strongest_expected(weights: Any) -> dict[str, int]:
    """The answer and the filters the usual mistakes (``a5kit.public_checks.q4c.MISTAKES``) pick."""
    w = np.asarray(weights, dtype=np.float64)
    return {
        "value": strongest(w),
        "signed_sum": int(w.sum(axis=(1, 2)).argmax()),
        "max_abs": int(np.abs(w).max(axis=(1, 2)).argmax()),
    }


# -- q4d: closest filter -------------------------------------------------------------------------------

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def one_hot_rows(sequence: str) -> np.ndarray:
    """(4, L): rows A, C, G, T."""
    return np.array([[1.0 if b == base else 0.0 for b in sequence] for base in "ACGT"])


def revcomp(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def strand_scores(weights: Any, sequence: str) -> np.ndarray:
    """Best score of each filter (n, 4, w) on one strand: every ungapped alignment, partial overlaps
    included (the motif padded with w - 1 zero columns on each side)."""
    w = np.asarray(weights, dtype=np.float64)
    width = w.shape[2]
    padded = np.pad(one_hot_rows(sequence), ((0, 0), (width - 1, width - 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=1)  # (4, positions, w)
    return np.einsum("fbw,bpw->fp", w, windows).max(axis=1)


def aligned_scores(weights: Any, sequence: str) -> np.ndarray:
    """Scores at offset 0 only (the motif's first base on the filter's first position)."""
    w = np.asarray(weights, dtype=np.float64)
    m = one_hot_rows(sequence)
    k = min(w.shape[2], m.shape[1])
    return np.einsum("fbw,bw->f", w[:, :, :k], m[:, :k])


def alignment_scores(weights: Any, motif: str) -> np.ndarray:
    """Best ungapped alignment score of ``motif`` against every filter, both strands: (n,)."""
    return np.maximum(strand_scores(weights, motif), strand_scores(weights, revcomp(motif)))


def closest(weights: Any, motif: str) -> int:
    return int(alignment_scores(weights, motif).argmax())


def closest_expected(weights: Any, motif: str) -> dict[str, Any]:
    """The answer, every filter's best score, and the filters the usual mistakes pick."""
    return {
        "value": closest(weights, motif),
        "scores": alignment_scores(weights, motif),
        "forward_only": int(strand_scores(weights, motif).argmax()),
        "complement_not_reversed": int(
            np.maximum(strand_scores(weights, motif), strand_scores(weights, motif.translate(_COMPLEMENT))).argmax()
        ),
        "offset_zero_only": int(
            np.maximum(aligned_scores(weights, motif), aligned_scores(weights, revcomp(motif))).argmax()
        ),
        "summed_strands": int((strand_scores(weights, motif) + strand_scores(weights, revcomp(motif))).argmax()),
        "normalised": int(
            (
                alignment_scores(weights, motif) / np.linalg.norm(np.asarray(weights, dtype=np.float64), axis=(1, 2))
            ).argmax()
        ),
    }


# -- q6: variant effect ----------------------------------------------------------------------------------


def apply_variant(sequence: str, start: int, position: int, ref: str, alt: str) -> str:
    i = position - 1 - start
    if sequence[i] != ref:
        raise ValueError(f"reference base mismatch at {position}: {sequence[i]!r} != {ref!r}")
    return sequence[:i] + alt + sequence[i + 1 :]


def reverse_complement(sequence: str) -> str:
    return sequence.translate(str.maketrans("ACGTN", "TGCAN"))[::-1]


def variant_effect(ref_pred: Any, alt_pred: Any, tracks: Sequence[int], bins: Sequence[int]) -> np.ndarray:
    ref = np.asarray(ref_pred, dtype=np.float64)
    alt = np.asarray(alt_pred, dtype=np.float64)
    return (alt[np.ix_(list(bins), list(tracks))] - ref[np.ix_(list(bins), list(tracks))]).sum(axis=0)


def variant_effect_expected(ref_pred: Any, alt_pred: Any, tracks: Sequence[int], bins: Sequence[int]) -> dict[str, Any]:
    """The answer, and tracks and bins swapped (None when the swap is out of range)."""
    ref, alt = np.asarray(ref_pred), np.asarray(alt_pred)
    fits = max(tracks) < ref.shape[0] and max(bins) < ref.shape[1]
    every_bin = list(range(ref.shape[0]))
    mistakes = {
        "absolute": np.abs(alt.astype(np.float64) - ref)[np.asarray(bins)][:, np.asarray(tracks)].sum(axis=0),
        "all_bins": variant_effect(ref, alt, tracks, every_bin),
    }
    return {
        "value": variant_effect(ref, alt, tracks, bins),
        "swapped": variant_effect(ref.T, alt.T, bins, tracks) if fits else None,
        "mistakes": mistakes,
    }


# -- the public checks' stored values ---------------------------------------------------------------------


def _flatten(prefix: str, expected: dict[str, Any]) -> dict[str, np.ndarray]:
    """``{"value": v, "mistakes": {name: m}, "x": ...}`` as ``{prefix.value, prefix.mistake.name, prefix.x}``, None left out."""
    out: dict[str, np.ndarray] = {}
    for key, item in expected.items():
        if key == "mistakes":
            out.update({f"{prefix}.mistake.{name}": np.asarray(m) for name, m in item.items()})
        elif item is not None:
            out[f"{prefix}.{key}"] = np.asarray(item)
    return out


def public_expected() -> dict[str, np.ndarray]:
    """Every value the public checks compare with, computed from their fixed inputs (what
    ``a5kit/public_checks/public_expected.npz`` holds)."""
    values: dict[str, np.ndarray] = {}
    q, k, v = q1a.random_qkv(1)
    values.update(_flatten("q1a.unmasked", attention_expected(q, k, v, causal=False)))
    for name, (query_word, key_word) in {**q1d.PUBLIC_PAIRS, **q1d.REPEATED_PAIRS}.items():
        values.update(
            _flatten(f"q1d.{name}", between_expected(q1d.TOKENS, q1d.public_attentions(), query_word, key_word))
        )
    values.update({f"q2a.{sequence}.value": one_hot(sequence) for sequence in q2a.STORED_SEQUENCES})
    values["q2b.example.encoded"] = one_hot(q2b.EXAMPLE)
    for name in q3a.PUBLIC_INPUTS:
        values.update(_flatten(f"q3a.{name}", pca_expected(q3a.public_input(name))))
    for name in q4a.PUBLIC_INPUTS:
        values.update(_flatten(f"q4a.{name}", extremes_expected(q4a.public_input(name))))
    values.update(_flatten("q4c.trap", strongest_expected(q4c.public_input())))
    for name, weights in q4d.public_inputs().items():
        values.update(_flatten(f"q4d.{name}", closest_expected(weights, q4d.MYOD1_MOTIF)))
    seq, start, position, ref, alt = q6.APPLY_VARIANT_INPUT
    values["q6.apply_variant.value"] = np.asarray(apply_variant(seq, start, position, ref, alt))
    values["q6.reverse_complement.value"] = np.asarray(reverse_complement(q6.REVERSE_COMPLEMENT_INPUT))
    values["q6.reverse_complement.mistake.reversed_only"] = np.asarray(q6.REVERSE_COMPLEMENT_INPUT[::-1])
    values["q6.reverse_complement.mistake.complemented_only"] = np.asarray(
        reverse_complement(q6.REVERSE_COMPLEMENT_INPUT)[::-1]
    )
    ref_pred, alt_pred, tracks, bins = q6.variant_effect_input()
    values.update(_flatten("q6.variant_effect", variant_effect_expected(ref_pred, alt_pred, tracks, bins)))
    return values
