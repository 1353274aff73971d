"""The motif classification data set of the CNN question, generated from pinned JASPAR matrices.

Each sequence is 18 bases with one motif instance sampled from a transcription factor's position
frequency matrix (JASPAR2024 via the ``pyjaspar`` package) and is labelled with that factor. The
generator uses numpy's ``default_rng`` only, so a seed reproduces the files byte for byte:
``training.txt`` and ``validation.txt`` are committed; the hidden ``test.txt`` is written at
autograder build time only, with a seed that ``make autograder`` draws at random (or the instructor
gives as ``A5KIT_HIDDEN_SEED``); the package has no default, so nobody can regenerate the test set.

    python -m a5kit.motifs --out src/a5kit/datasets [--hidden-out DIR --hidden-seed N]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from a5kit import config

TFS = ("MEF2A", "FOXP2", "CREB1", "MYOD1", "TP53")
JASPAR_RELEASE = "JASPAR2024"
SEQ_LEN = 18
BASES = "ACGT"

# The latest version of the CORE, vertebrates, human (taxon 9606) matrix of each factor in
# JASPAR2024. Motif lengths: MEF2A 10, FOXP2 9, CREB1 8, MYOD1 9, TP53 18.
MATRIX_IDS: dict[str, str] = {
    "MEF2A": "MA0052.5",
    "FOXP2": "MA0593.2",
    "CREB1": "MA0018.5",
    "MYOD1": "MA0499.3",
    "TP53": "MA0106.3",
}

SEED = 20240  # training uses SEED, validation SEED + 1
N_TRAIN = 500  # per factor
N_VALIDATION = 100
N_TEST = 100
HIDDEN_SEED_ENV = "A5KIT_HIDDEN_SEED"  # no default: `make autograder` draws the seed unless one is given


class HiddenSeedMissing(RuntimeError):
    """The hidden test set was asked for without a seed."""


def load_pfms() -> dict[str, np.ndarray]:
    """Each factor's pinned JASPAR matrix as probabilities, shape (motif length, 4), columns A C G T."""
    from pyjaspar import jaspardb  # lazy: only generating the data needs it (bundled SQLite releases)

    jdb = jaspardb(release=JASPAR_RELEASE)
    pfms: dict[str, np.ndarray] = {}
    for tf in TFS:
        motif = jdb.fetch_motif_by_id(MATRIX_IDS[tf])
        assert motif is not None and motif.matrix_id == MATRIX_IDS[tf], f"{MATRIX_IDS[tf]} not in {JASPAR_RELEASE}"
        assert motif.name.upper() == tf, f"{MATRIX_IDS[tf]} is {motif.name}, not {tf}"
        counts = np.array([motif.counts[b] for b in BASES], dtype=np.float64).T
        pfms[tf] = counts / counts.sum(axis=1, keepdims=True)
    return pfms


def _sample_columns(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """Base indices, shape (n, columns), each column drawn from its row of ``probs`` (inverse CDF)."""
    cdf = np.cumsum(probs, axis=1)[:, :-1]  # the last bound is 1 up to rounding: leave it out
    u = rng.random((n, len(probs)))
    return (u[:, :, None] >= cdf[None, :, :]).sum(axis=2)


def generate(n_per_tf: int, seed: int, pfms: dict[str, np.ndarray] | None = None) -> list[tuple[str, str]]:
    """``n_per_tf`` labelled 18-base sequences per factor, in a seeded shuffled order.

    Every motif position is sampled from its PFM column. A motif shorter than 18 sits at a uniformly
    random offset between uniformly random flanks; a longer one is cut to its central 18 columns
    (none of the pinned matrices is longer: TP53's is exactly 18).
    """
    pfms = load_pfms() if pfms is None else pfms
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str]] = []
    for tf in TFS:
        pfm = pfms[tf]
        if len(pfm) > SEQ_LEN:
            start = (len(pfm) - SEQ_LEN) // 2
            pfm = pfm[start : start + SEQ_LEN]
        width = len(pfm)
        seqs = rng.integers(0, 4, size=(n_per_tf, SEQ_LEN))
        offsets = rng.integers(0, SEQ_LEN - width + 1, size=n_per_tf)
        motif = _sample_columns(rng, pfm, n_per_tf)
        for i in range(n_per_tf):
            seqs[i, offsets[i] : offsets[i] + width] = motif[i]
        rows.extend(("".join(BASES[b] for b in s), tf) for s in seqs)
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def write_tsv(rows: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write ``sequence<TAB>TF`` lines, no header (the format of the course's ``training.txt``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.writelines(f"{seq}\t{tf}\n" for seq, tf in rows)
    return path


def read_tsv(path: str | Path) -> tuple[list[str], list[str]]:
    """Sequences and labels of a ``sequence<TAB>TF`` file."""
    seqs: list[str] = []
    labels: list[str] = []
    for line in Path(path).read_text(encoding="ascii").splitlines():
        if line:
            seq, tf = line.split("\t")
            seqs.append(seq)
            labels.append(tf)
    return seqs, labels


def load_split(name: str) -> tuple[list[str], list[str]]:
    """Sequences and TF labels of a committed split, ``"training"`` or ``"validation"`` (shipped in the package)."""
    from importlib.resources import files

    if name not in ("training", "validation"):
        raise ValueError(f"split must be 'training' or 'validation', not {name!r} (the test set is hidden)")
    return read_tsv(str(files("a5kit.datasets") / f"{name}.txt"))


def encoded_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a committed split: X the (N, 18, 4) float32 one-hot (A, C, G, T), y the indices into TFS.

    The notebook's CNN data, encoded by the kit so that Question 3 never depends on the student's
    Question 2; it encodes only these fixed sequences, never a string of the caller's.
    """
    seqs, labels = load_split(name)
    codes = np.frombuffer("".join(seqs).upper().encode("ascii"), dtype=np.uint8).reshape(len(seqs), -1)
    X = (codes[..., None] == np.frombuffer(b"ACGT", dtype=np.uint8)).astype(
        np.float32
    )  # no encoder of a caller's string (Q2a)
    return X, np.array([TFS.index(tf) for tf in labels])


def hidden_seed_from_env() -> int:
    """The hidden test set's seed from ``A5KIT_HIDDEN_SEED``; refuses to guess one."""
    value = config.hidden_seed()
    if value is None:
        raise HiddenSeedMissing(
            f"{HIDDEN_SEED_ENV} is not set: `make autograder` draws the hidden seed itself; to grade elsewhere, set "
            "A5KIT_EXPECTED to the archive's expected/ folder (dist/autograder/expected), or set the seed yourself"
        )
    return value


def write_dataset(
    out_dir: str | Path,
    hidden_dir: str | Path | None = None,
    seed: int = SEED,
    hidden_seed: int | None = None,
) -> dict[str, Path]:
    """Write ``training.txt`` (seed) and ``validation.txt`` (seed + 1) to ``out_dir``, and the
    hidden ``test.txt`` to ``hidden_dir`` if given; returns the paths by file name."""
    pfms = load_pfms()
    out_dir = Path(out_dir)
    paths = {
        "training.txt": write_tsv(generate(N_TRAIN, seed, pfms), out_dir / "training.txt"),
        "validation.txt": write_tsv(generate(N_VALIDATION, seed + 1, pfms), out_dir / "validation.txt"),
    }
    if hidden_dir is not None:
        hidden_seed = hidden_seed_from_env() if hidden_seed is None else hidden_seed
        paths["test.txt"] = write_tsv(generate(N_TEST, hidden_seed, pfms), Path(hidden_dir) / "test.txt")
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: write the committed files, and the hidden test set when asked."""
    parser = argparse.ArgumentParser(prog="python -m a5kit.motifs", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path("src/a5kit/datasets"), help="folder for training.txt and validation.txt"
    )
    parser.add_argument(
        "--hidden-out", type=Path, default=None, help="folder for test.txt (needs --hidden-seed or A5KIT_HIDDEN_SEED)"
    )
    parser.add_argument(
        "--hidden-seed",
        type=int,
        default=None,
        help=f"seed of the hidden test set (default: {HIDDEN_SEED_ENV}; there is no built-in one)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="training seed; validation uses seed + 1")
    args = parser.parse_args(argv)
    if args.hidden_out is not None and args.hidden_seed is None and config.hidden_seed() is None:
        parser.error(
            f"--hidden-out needs a seed: pass --hidden-seed N or set {HIDDEN_SEED_ENV} (the package has no default)"
        )
    for path in write_dataset(args.out, args.hidden_out, seed=args.seed, hidden_seed=args.hidden_seed).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
