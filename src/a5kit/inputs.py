"""The inputs the notebooks ask the models about: ``make cache`` records exactly these.

Notebooks import their sentences and intervals from here, so the cache and the questions
cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from . import config
from .data import CHR11_WINDOW, CHR16_FULL, RS11644125, DataUnavailable, Interval, enformer_tracks, hg38_sequence

ACTIVE_SENTENCE = "The quick brown fox jumps over the lazy dog."
PASSIVE_SENTENCE = "The lazy dog was jumped over by the quick brown fox."
SENTENCES: tuple[str, ...] = (ACTIVE_SENTENCE, PASSIVE_SENTENCE)
SEQUENCE_WINDOWS: tuple[Interval, ...] = (CHR11_WINDOW, CHR16_FULL)

# Notebook 3 (Enformer). Question 4: the chr11 window at 200 bins of 128 bp, all 5,313 tracks.
CHR11_TARGET_LENGTH = 200
# Question 6: rs11644125 in the middle of the full 196,608 bp window. The cache keeps only the two
# tracks the question scores (a full (896, 5313) float32 prediction is 19 MB).
VARIANT = RS11644125
VARIANT_WINDOW = CHR16_FULL
VARIANT_TRACKS: tuple[int, ...] = (4767, 2280)  # CAGE:Neutrophils, CHIP:H3K27ac:neutrophil
VARIANT_TRACK_LABELS: tuple[str, ...] = ("CAGE neutrophils", "H3K27ac neutrophil")
VARIANT_SHIFTS: tuple[int, ...] = (1, 2, 3)  # bp; the window moves right, N fills the end
# The variant sits at input position 98,304 = 40,960 (cropped flank) + 448 * 128: output bin 448.
CENTRE_BINS: tuple[int, ...] = (446, 447, 448, 449)  # the 512 bp around the variant


def shift_sequence(sequence: str, shift: int) -> str:
    """The window moved ``shift`` bp to the right: drop the first ``shift`` bases, pad the end with N."""
    return str(sequence[shift:]) + "N" * shift if shift else str(sequence)


def variant_sequences(ref_window: str) -> dict[tuple[str, str], str]:
    """Every sequence Question 6 predicts, by (view, allele): forward, reverse complement and shifts."""
    centre = VARIANT.pos0 - VARIANT_WINDOW.start
    if ref_window[centre] != VARIANT.ref:
        raise ValueError(
            f"{VARIANT.id}: the window has {ref_window[centre]!r} at {VARIANT.chrom}:{VARIANT.pos}, dbSNP says {VARIANT.ref!r}"
        )
    alt_window = str(ref_window[:centre]) + VARIANT.alt + str(ref_window[centre + 1 :])
    other_strand = str.maketrans("ACGTNacgtn", "TGCANtgcan")
    views: dict[str, Callable[[str], str]] = {
        "forward": lambda s: str(s),
        "reverse complement": lambda s: str(s).translate(other_strand)[::-1],
    }
    views.update({f"shift +{k} bp": functools.partial(shift_sequence, shift=k) for k in VARIANT_SHIFTS})
    return {
        (view, allele): make(seq)
        for view, make in views.items()
        for allele, seq in (("ref", ref_window), ("alt", alt_window))
    }


def record_all(progress: Callable[[str], None] = print) -> None:
    """Call every model function the notebooks use once, so record mode writes each to the cache."""
    from . import models

    for sentence in SENTENCES:
        tokens, attentions = models.gpt2_attentions(sentence)
        progress(f"gpt2 {sentence!r}: {len(tokens)} tokens, attentions {attentions.shape}")
    for interval in SEQUENCE_WINDOWS:
        seq = hg38_sequence(interval)
        progress(f"sequence {interval}: {len(seq)} bp, {seq.source}")
    try:
        progress(f"targets_human.txt: {len(enformer_tracks())} tracks")
    except DataUnavailable as err:
        if not config.use_tiny_models():
            raise
        progress(f"targets_human.txt skipped (a tiny cache can do without it; notebook 3 cannot): {err}")
    window = hg38_sequence(CHR11_WINDOW)
    progress(
        f"enformer {CHR11_WINDOW}: predictions {models.enformer_predict(window, target_length=CHR11_TARGET_LENGTH).shape}"
    )
    filters = models.enformer_first_layer_filters()
    progress(f"enformer first-layer filters {filters.shape}")
    from . import motif_match

    strongest = int(np.abs(np.asarray(filters, dtype=np.float64)).sum(axis=(1, 2)).argmax())  # Question 4c's definition
    # Tomtom of every filter, not only the strongest: q4c judges top_jaspar_hit on the filter the
    # student's own strongest_filter picks, and replay must answer as a live run would.
    for index in range(len(filters)):
        hits = motif_match.tomtom_jaspar(filters[index])
        if index == strongest or index % 100 == 0:
            progress(
                f"tomtom filter {index} of {len(filters)} vs {motif_match.DATABASE}: top hit {hits['matrix_id'][0]} {hits['name'][0]}"
            )
    null = motif_match.tomtom_null(filters[strongest])  # notebook 3's q4c shows the null beside the hit
    progress(
        f"tomtom null of filter {strongest}: smallest E of {len(null['query'])} null queries {null['e_value'].min():.3g}"
    )
    for (view, allele), variant_seq in variant_sequences(hg38_sequence(VARIANT_WINDOW)).items():
        pred = models.enformer_predict(variant_seq, tracks=VARIANT_TRACKS)
        progress(f"enformer {VARIANT.id} {allele} {view}: tracks {VARIANT_TRACKS}, predictions {pred.shape}")
    from . import finetune_data  # notebook 4: the sequences of the fine-tuning windows

    for interval in finetune_data.WINDOWS:
        seq = hg38_sequence(interval)
        progress(f"fine-tuning window {interval}: {len(seq)} bp, {seq.source}")
