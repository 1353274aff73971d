"""The inputs the notebooks ask the models about: ``make cache`` records exactly these.

Notebooks import their sentences and intervals from here, so the cache and the questions
cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable

from .data import CHR11_WINDOW, CHR16_FULL, Interval, hg38_sequence

ACTIVE_SENTENCE = "The quick brown fox jumps over the lazy dog."
PASSIVE_SENTENCE = "The lazy dog was jumped over by the quick brown fox."
SENTENCES: tuple[str, ...] = (ACTIVE_SENTENCE, PASSIVE_SENTENCE)
SEQUENCE_WINDOWS: tuple[Interval, ...] = (CHR11_WINDOW, CHR16_FULL)


def record_all(progress: Callable[[str], None] = print) -> None:
    """Call every model function the notebooks use once, so record mode writes each to the cache."""
    from . import models

    for sentence in SENTENCES:
        tokens, attentions = models.gpt2_attentions(sentence)
        progress(f"gpt2 {sentence!r}: {len(tokens)} tokens, attentions {attentions.shape}")
    for interval in SEQUENCE_WINDOWS:
        seq = hg38_sequence(interval)
        progress(f"sequence {interval}: {len(seq)} bp, {seq.source}")
    window = hg38_sequence(CHR11_WINDOW)
    progress(f"enformer {CHR11_WINDOW}: predictions {models.enformer_predict(window).shape}")
    progress(f"enformer first-layer filters {models.enformer_first_layer_filters().shape}")
