"""q4a: the extreme tracks of Enformer's predictions, and a track plot -- public checks."""

from __future__ import annotations

import numpy as np

from a5kit.checking import Failure, case, expect
from a5kit.public_checks import stored
from a5kit.public_checks.q2b import plot_summary

BIN_SIZE = 128


def planted_predictions(seed: int, bins: int, tracks: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Non-negative random predictions (bins, tracks) with three planted tracks: a high mean, a low
    mean, and a single tall peak whose mean is unremarkable (so peak != mean)."""
    rng = np.random.default_rng(seed)
    p = rng.gamma(2.0, 1.0, size=(bins, tracks))
    high, low, peak = (int(i) for i in rng.choice(tracks, size=3, replace=False))
    p[:, high] += 4.0
    p[:, low] *= 0.05
    p[:, peak] = 1.0
    p[int(rng.integers(bins)), peak] = 8.0 * p.max()
    return p.astype(np.float32), (high, low, peak)


def extremes(value, n_tracks: int, what: str) -> tuple[int, int, int]:
    """The student's answer as three ints; explains arrays of means or out-of-range indices."""
    got = expect.array(value, what, None)
    if got.ndim != 1 or len(got) != 3:
        raise Failure(
            f"{what}: expected 3 track indices (highest mean, lowest mean, highest peak), got an array of shape {got.shape}"
        )
    if not np.all(got == np.round(got)):
        raise Failure(
            f"{what}: expected whole-number track indices, got {got.tolist()}: return the argmax/argmin, not the values"
        )
    return tuple(int(x) for x in got)  # type: ignore[return-value]


def check_extremes(sub, predictions: np.ndarray, expected: dict[str, tuple[int, int, int]], what: str) -> None:
    """The student's three indices equal ``expected["value"]``; ``expected["transposed"]`` (the answer over
    the wrong axis) helps name the mistake."""
    got = extremes(sub.call("track_extremes", predictions), predictions.shape[1], what)
    want = tuple(int(x) for x in expected["value"])
    if got == want:
        return
    _bins, tracks = predictions.shape
    flat = int(np.argmax(predictions))
    if got[2] != want[2] and got[2] == flat:
        raise Failure(
            f"{what}: highest peak {got[2]} is the position of the largest value in the flattened array (argmax without an "
            "axis), not a track: take each track's maximum over the bins, predictions.max(axis=0), then the argmax over tracks"
        )
    peak_bin = int(np.unravel_index(flat, predictions.shape)[0])
    if got[2] != want[2] and got[2] == peak_bin:
        raise Failure(
            f"{what}: highest peak {got[2]} is the bin of the largest value, not its track (argmax over the wrong axis): "
            "take each track's maximum over the bins, predictions.max(axis=0), then the argmax over tracks"
        )
    by_bin = np.asarray(predictions, dtype=np.float64).mean(axis=1)  # the mean over tracks: one per bin
    wrong_axis = got[:2] == (int(by_bin.argmax()), int(by_bin.argmin())) and got[:2] != want[:2]
    if wrong_axis or got == tuple(int(x) for x in expected["transposed"]) or any(g >= tracks for g in got):
        raise Failure(
            f"{what}: got {list(got)}, expected {list(want)}: these look like bin indices. predictions has shape "
            f"(bins, tracks) = {predictions.shape}: average over the bins (axis 0) to get one mean per track, and take "
            "the argmax over tracks (not over the wrong axis)"
        )
    names = ("highest-mean", "lowest-mean", "highest-peak")
    wrong = [f"{n} track {g} (expected {w})" for n, g, w in zip(names, got, want) if g != w]
    hint = ""
    if got[2] != want[2] and got[2] == want[0]:
        hint = ": the peak track is the one with the largest single-bin value (max over bins), not the largest mean"
    elif got[:2] == (want[1], want[0]):
        hint = ": highest and lowest mean are swapped"
    raise Failure(f"{what}: wrong {', '.join(wrong)}{hint}")


PUBLIC_INPUTS: dict[str, tuple[int, int, int]] = {
    "planted": (2, 200, 40)
}  # planted_predictions(seed, bins, tracks); answers stored


def public_input(name: str) -> np.ndarray:
    seed, bins, tracks = PUBLIC_INPUTS[name]
    return planted_predictions(seed, bins=bins, tracks=tracks)[0]


def stored_expected(name: str) -> dict[str, tuple[int, int, int]]:
    return {key: tuple(int(x) for x in stored.value(f"q4a.{name}.{key}")) for key in ("value", "transposed")}  # type: ignore[misc]


@case(points=0.5)
def returns_three_track_indices(sub):
    predictions, _ = planted_predictions(1, bins=200, tracks=30)
    extremes(sub.call("track_extremes", predictions), 30, "track_extremes(predictions (200, 30))")


@case(points=1)
def finds_planted_extremes(sub):
    check_extremes(
        sub,
        public_input("planted"),
        stored_expected("planted"),
        "track_extremes(predictions (200, 40) with planted extremes)",
    )


@case(points=1)
def plot_track_draws_bins_at_genomic_positions_with_a_title(sub):
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 1.0, size=200)
    description, chrom, start = "CAGE:Example cell line", "chr11", 35_127_286
    what = f"plot_track(values (200,), {description!r}, {chrom!r}, {start})"
    summary = plot_summary(sub, "plot_track", values, description, chrom, start, what=what)
    lines = [
        line for line in summary["lines"] if len(line["y"]) == len(values) and np.allclose(line["y"], values, rtol=1e-5)
    ]
    if not lines:
        raise Failure(
            f"{what}: no line shows the 200 values (draw them with ax.plot(x, values) or sns.lineplot(x=x, y=values, ax=ax))"
        )
    x = np.asarray(lines[0]["x"], dtype=float)
    lo = start + BIN_SIZE * np.arange(len(values))
    if not np.all((x >= lo) & (x <= lo + BIN_SIZE)):
        hint = " (bin numbers 0..199?)" if x.max() < 1000 else ""
        raise Failure(
            f"{what}: the x values run from {x.min():.0f} to {x.max():.0f}{hint}; put each bin at its genomic position: "
            f"bin i covers {chrom}:start + 128*i to start + 128*(i+1), e.g. x = start + 128 * np.arange(200) (+ 64 for bin centres)"
        )
    if description not in summary["title"]:
        raise Failure(
            f"{what}: the title is {summary['title']!r}; it should contain the track's description {description!r}"
        )
    if chrom not in summary["xlabel"] and chrom not in summary["title"]:
        raise Failure(
            f"{what}: say where the interval is: put the chromosome ({chrom!r}) in the x-axis label or the title"
        )
