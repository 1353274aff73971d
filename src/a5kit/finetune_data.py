"""The fine-tuning task of notebook 4: chr11 windows, per-bin motif-count targets, and the model.

The task is defined by the kit and needs no data beyond the sequence: for every 128 bp bin of a
window (one Enformer output bin) the targets are the numbers of occurrences of three short
motifs, counted from the sequence itself. A new head on Enformer's trunk learns to predict them.
All three motifs read the same on both strands (CG and CANNTG are their own reverse complements;
AAAA and TTTT are each other's), so the targets do not depend on the strand.

Notebook and tests share these definitions. The windows are read with
:func:`a5kit.data.hg38_sequence`, so ``make cache`` must record every interval of ``WINDOWS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import config, models
from .data import CHR11_CENTER, Interval, hg38_sequence

BIN_SIZE = models.ENFORMER_BIN_SIZE  # 128 bp, one Enformer output bin
WINDOW_LENGTH = 12_800  # bp per window: 100 bins, short enough to fine-tune the real model on a T4 in minutes
BINS = WINDOW_LENGTH // BIN_SIZE
N_WINDOWS = 8
N_TRAIN = 6
GAP_WINDOWS = 1  # one window's length of sequence left out between the training and the held-out windows
# Eight windows on 115.2 kb of chr11 centred on the Enformer paper's Fig. 1d locus: six adjacent
# training windows, a 12.8 kb gap, then two adjacent held-out windows, so no held-out bin borders a
# training bin (chr11:35,082,486-35,197,686, 0-based half-open).
_SLOTS = tuple(range(N_TRAIN)) + tuple(range(N_TRAIN + GAP_WINDOWS, N_WINDOWS + GAP_WINDOWS))
_FIRST = CHR11_CENTER - (N_WINDOWS + GAP_WINDOWS) * WINDOW_LENGTH // 2
WINDOWS: tuple[Interval, ...] = tuple(
    Interval("chr11", _FIRST + slot * WINDOW_LENGTH, _FIRST + (slot + 1) * WINDOW_LENGTH) for slot in _SLOTS
)
TRAIN_WINDOWS = WINDOWS[:N_TRAIN]
HELD_OUT_WINDOWS = WINDOWS[N_TRAIN:]

TRACKS: tuple[str, ...] = ("CpG (CG)", "A/T run (AAAA or TTTT)", "E-box (CANNTG)")
NUM_TRACKS = len(TRACKS)

# Training settings of the notebook's experiment (the same for every run).
BATCH_SIZE = 2
STEPS = 40
LEARNING_RATE = 1e-3  # the new head (9,219 parameters on the real trunk), from scratch
# The pretrained trunk, when it is trained at all: ten times lower than the head. Enformer itself was
# trained with Adam at 5e-4 after a linear warm-up (Avsec et al. 2021, Methods); 40 steps leave no room
# for a warm-up, so the trunk gets a rate that moves its weights gently instead of one that re-trains it.
TRUNK_LEARNING_RATE = 1e-4


def _codes(sequence: str) -> np.ndarray:
    return np.frombuffer(str(sequence).upper().encode("ascii"), dtype=np.uint8)


def motif_starts(sequence: str) -> np.ndarray:
    """(L, 3) 0/1 array: 1 where an occurrence of each track's motif starts (overlapping occurrences count)."""
    s = _codes(sequence)
    n = len(s)
    starts = np.zeros((n, NUM_TRACKS), dtype=np.float32)

    def at(offset: int, base: str) -> np.ndarray:
        """Whether position i + offset holds ``base``, for every start i (False past the end)."""
        out = np.zeros(n, dtype=bool)
        if offset < n:
            out[: n - offset] = s[offset:] == ord(base)
        return out

    def any_base(offset: int) -> np.ndarray:
        return at(offset, "A") | at(offset, "C") | at(offset, "G") | at(offset, "T")

    starts[:, 0] = at(0, "C") & at(1, "G")
    starts[:, 1] = (at(0, "A") & at(1, "A") & at(2, "A") & at(3, "A")) | (
        at(0, "T") & at(1, "T") & at(2, "T") & at(3, "T")
    )
    starts[:, 2] = at(0, "C") & at(1, "A") & any_base(2) & any_base(3) & at(4, "T") & at(5, "G")
    return starts


def motif_counts(sequence: str) -> np.ndarray:
    """Per-bin motif counts, float32 (len(sequence) // 128, 3): occurrences starting in each 128 bp bin."""
    if len(sequence) % BIN_SIZE:
        raise ValueError(f"sequence length {len(sequence)} is not a multiple of {BIN_SIZE} bp")
    return motif_starts(sequence).reshape(len(sequence) // BIN_SIZE, BIN_SIZE, NUM_TRACKS).sum(axis=1)


def windows(intervals: tuple[Interval, ...] = WINDOWS) -> list[str]:
    """The sequences of ``intervals`` (hg38 in live/record/replay mode, synthetic in tiny mode)."""
    return [hg38_sequence(interval) for interval in intervals]


def load() -> dict[str, Any]:
    """The task's data: one-hot windows and scaled targets for the training and held-out windows.

    Targets are the per-bin counts divided by each track's mean count over the training windows,
    so every track has mean 1 on the training set (the softplus head starts near the right scale;
    Pearson r does not change under scaling). Returns a dict with ``X_train`` (6, 12800, 4),
    ``Y_train`` (6, 100, 3), ``X_test`` (2, 12800, 4), ``Y_test`` (2, 100, 3), all float32,
    ``scale`` (3,) the divisors, and ``source`` (where the sequence came from).
    """
    sequences = windows()
    codes = np.frombuffer("".join(sequences).upper().encode("ascii"), dtype=np.uint8).reshape(len(sequences), -1)
    X = (codes[..., None] == np.frombuffer(b"ACGT", dtype=np.uint8)).astype(
        np.float32
    )  # N: all zeros; no encoder of a caller's string (Q2a)
    counts = np.stack([motif_counts(s) for s in sequences])
    n_train = len(TRAIN_WINDOWS)
    scale = counts[:n_train].reshape(-1, NUM_TRACKS).mean(axis=0)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    Y = (counts / scale).astype(np.float32)
    return {
        "X_train": X[:n_train],
        "Y_train": Y[:n_train],
        "X_test": X[n_train:],
        "Y_test": Y[n_train:],
        "scale": scale,
        "source": getattr(sequences[0], "source", "unknown"),
    }


def make_batches(
    X: np.ndarray, Y: np.ndarray, batch_size: int = BATCH_SIZE, device: Any = "cpu"
) -> list[tuple[Any, Any]]:
    """Consecutive (sequence, target) batches of float32 tensors on ``device``, for ``finetune``."""
    import torch

    return [
        (
            torch.as_tensor(X[i : i + batch_size], dtype=torch.float32, device=device),
            torch.as_tensor(Y[i : i + batch_size], dtype=torch.float32, device=device),
        )
        for i in range(0, len(X), batch_size)
    ]


def device() -> str:
    """``cuda`` where a GPU is available (Colab T4), else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def enformer_for_finetuning() -> tuple[Any, str]:
    """(a fresh Enformer to fine-tune, a label saying which one it is).

    live/record: the pretrained Enformer (``a5kit.models.load_enformer``). tiny: the kit's tiny
    random Enformer. replay (the autograder): there are no pretrained weights, so a tiny random
    Enformer of the same class (seed ``a5kit.models.TINY_SEED``); the label says so, and nothing
    it produces is biology.
    """
    mode = config.mode()
    if mode == "replay":
        model = models.tiny_enformer(models.TINY_SEED)
        model.eval()
        return model, "TINY RANDOM Enformer (replay mode: the autograder has no pretrained weights; not biology)"
    model = models.load_enformer()
    if config.use_tiny_models():
        return model, "TINY RANDOM Enformer (tiny mode; not pretrained, not biology)"
    return model, f"pretrained Enformer ({models._source('A5KIT_ENFORMER_SOURCE', models.ENFORMER_ID)})"


def random_trunk(enformer: Any, seed: int = 2024) -> Any:
    """The control of the experiment: an Enformer of the same architecture as ``enformer``, randomly initialised.

    Same class and configuration (so the same number of features per bin and the same head fits
    it), weights drawn afresh under ``torch.manual_seed(seed)`` (not the tiny models' seed, so in tiny mode
    too it differs from the model it controls); on the same device, in eval mode. A
    head trained on this frozen trunk shows what a linear read-out of random convolutional and
    attention features achieves on the task: the pretrained trunk is evidence of transfer only
    where it beats this.
    """
    import torch

    devices = {p.device for p in enformer.parameters()}
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))
        control = type(enformer)(enformer.config)
    finally:
        torch.random.set_rng_state(state)
    control.eval()
    return control.to(next(iter(devices))) if devices else control


def is_tiny(label: str) -> bool:
    """Whether a label from :func:`enformer_for_finetuning` names a tiny random model."""
    return label.startswith("TINY")
