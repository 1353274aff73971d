"""``make answers``: the grader sheet of a recorded cache, ``CACHE/ANSWERS.md``.

    python -m a5kit.answers --cache data/cache [--live-notebooks DIR] [--out FILE]

The written answers of notebooks 1 and 3 (and 4) ask graders to check numbers that depend on the
model outputs: filter 0's consensus, the strongest filter's JASPAR hits, the filter closest to the
MYOD1 site, the Q4a track extremes, the Q6 variant effects, the Q1 attention values. This runs the
solution notebooks' own code in replay mode on the cache (every code cell except the check and
grade cells) and reads those numbers from the notebooks' variables and functions, so the sheet
cannot drift from the reference solution. Q5's Pearson r needs a live fine-tuning run, which no
cache holds: pass ``--live-notebooks`` a folder of executed notebooks (``make rehearse`` writes
one) to include the table of such a run.

A tiny cache (or a rehearsal cache of random weights) makes a sheet that says so in every section.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._env import environ
from .cache import TINY_NOTE, Cache

ROOT = Path(__file__).resolve().parents[2]
MYOD1_SITE_NAME = "MYOD1_SITE"


def run_solution(path: Path, cache: Path) -> dict[str, Any]:
    """Execute a solution notebook's code cells in replay mode on ``cache``; return its variables.

    Cells that call ``check(`` or ``grade(`` are skipped (they grade, they compute nothing the
    sheet needs); figures go to matplotlib's Agg backend and are closed; printed output is dropped.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import nbformat

    nb = nbformat.read(path, as_version=4)
    namespace: dict[str, Any] = {"__name__": f"a5kit_answers_{path.stem}", "display": lambda *a, **k: None}
    with (
        environ(A5KIT_MODE="replay", A5KIT_CACHE=str(cache)),
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            source = cell.source
            if "check(" in source or "grade(" in source or "use_hidden_tests" in source:
                continue
            exec(compile(source, f"{path.name}:{cell.get('id', '?')}", "exec"), namespace)
            plt.close("all")
    return namespace


# -- numbers the keys need ------------------------------------------------------------------------


def consensus(matrix: np.ndarray) -> str:
    """The tallest positive letter at every position of a (width, 4) logo matrix; ``n`` where no weight is positive."""
    m = np.asarray(matrix, dtype=np.float64)
    return "".join("ACGT"[int(row.argmax())] if row.max() > 0 else "n" for row in m)


def best_alignment(weights: np.ndarray, index: int, motif: str) -> dict[str, Any]:
    """Strand and offset of filter ``index``'s best ungapped alignment with ``motif`` (Q4d's score, both strands).

    ``offset`` is the motif's start relative to the filter's first position (negative: the motif
    starts before the filter; partial overlaps count, as in ``closest_filter``).
    """

    def one_hot(seq: str) -> np.ndarray:  # instructor-only module: not in the student package
        return (
            np.frombuffer(seq.upper().encode("ascii"), dtype=np.uint8)[:, None]
            == np.frombuffer(b"ACGT", dtype=np.uint8)
        ).astype(np.float32)

    w = np.asarray(weights, dtype=np.float64)[index]  # (4, width)
    width = w.shape[1]
    best: dict[str, Any] = {}
    reverse = motif.upper().translate(str.maketrans("ACGT", "TGCA"))[::-1]
    for strand, seq in (("+", motif), ("-", reverse)):
        x = np.pad(one_hot(seq).T.astype(np.float64), ((0, 0), (width - 1, width - 1)))
        windows = np.lib.stride_tricks.sliding_window_view(x, width, axis=1)  # (4, offsets, width)
        scores = np.einsum("bw,bpw->p", w, windows)
        p = int(scores.argmax())
        if not best or scores[p] > best["score"]:
            best = {"strand": strand, "offset": width - 1 - p, "score": float(scores[p]), "sequence": seq}
    return best


def _tomtom_live(weights: np.ndarray) -> dict[str, np.ndarray]:
    """Tomtom of a filter no cache holds (the null filters), computed here; needs memelite and pyjaspar."""
    from . import motif_match

    with environ(A5KIT_MODE="live", A5KIT_LIVE_MEMO="0"):
        return motif_match.tomtom_jaspar(np.asarray(weights, dtype=np.float32))


def _hits_table(hits: dict[str, np.ndarray], n: int = 5) -> list[str]:
    lines = [
        "| rank | matrix | name | p-value | E-value | overlap | offset | strand |",
        "|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for i in range(min(n, len(hits["matrix_id"]))):
        lines.append(
            f"| {i + 1} | {hits['matrix_id'][i]} | {hits['name'][i]} | {hits['p_value'][i]:.3g} | {hits['e_value'][i]:.3g} | "
            f"{hits['overlap'][i]} | {hits['offset'][i]} | {hits['strand'][i]} |"
        )
    return lines


def _live_q5(folder: Path | None) -> list[str]:
    if folder is None:
        return [
            "No live run given: Q5's Pearson r come from a live fine-tuning run (Colab, GPU), which no cache holds. "
            "Run notebook 4's experiment cell and paste its table here, or pass `--live-notebooks` a folder of executed notebooks."
        ]
    path = folder / "04_finetune.ipynb"
    if not path.exists():
        return [f"No executed notebook 4 in {folder} (yet): Q5's Pearson r not available."]
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "runs[name] = {" in cell.source and cell.get("outputs"):
            text = "".join(
                o.get("text", "")
                for o in cell.outputs
                if o.get("output_type") == "stream" and o.get("name") == "stdout"
            )
            if text.strip():
                return [f"From `{path}`:", "", "```", text.rstrip(), "```"]
    return [f"{path} holds no output of the experiment cell (it did not finish)."]


def sheet(cache: Path, solutions: Path, live_notebooks: Path | None = None) -> str:
    """The Markdown grader sheet of ``cache``."""
    store = Cache(cache)
    if not store.entries:
        raise FileNotFoundError(f"the cache {cache} is empty or missing: record it with `make cache` first")
    manifest = store.manifest
    if store.is_tiny:
        banner = f"**{TINY_NOTE}.** Use this sheet to check the plumbing, never to grade written answers."
    elif manifest.get("rehearsal"):
        banner = f"**{manifest['rehearsal']}.** Use this sheet to check the plumbing, never to grade written answers."
    else:
        banner = ""
    models_used = sorted({f"{e['model_id']} ({e['model_version']})" for e in store.entries.values()})

    def section(title: str) -> list[str]:
        return ["", f"## {title}", ""] + ([f"> {banner}", ""] if banner else [])

    out = ["# Assignment 5: grader sheet", ""]
    if banner:
        out += [f"> {banner}", ""]
    out += [
        f"Made by `make answers` from the cache `{cache}` ({len(store.entries)} entries), running the solution notebooks' "
        "code in replay mode. Models and sources in the cache:",
        "",
    ] + [f"- {m}" for m in models_used]

    # -- notebook 1 ---------------------------------------------------------------------------
    nb1 = run_solution(solutions / "01_self_attention.ipynb", cache)
    out += section("Q1 (notebook 1): GPT-2 attention")
    tokens, att = nb1["tokens"], np.asarray(nb1["attentions"])
    out += [f"Active sentence tokens ({len(tokens)}): `{' '.join(tokens)}`; attentions {att.shape}.", ""]
    if "mine" in nb1:
        out += [
            f"- Q1a: own attention vs GPT-2's layer 0, head 0: max abs difference {np.abs(nb1['mine'] - att[0, 0]).max():.2e}.",
            "",
        ]
    first = att[:, :, :, 0].mean(axis=(1, 2))
    entropy = -(att * np.log(np.clip(att, 1e-12, None))).sum(axis=-1).mean(axis=(1, 2))
    out += [
        "Q1c: per layer, mean over heads and queries of the attention to the first token, and the mean row entropy (nats):",
        "",
        "| layer | to first token | entropy |",
        "|---:|---:|---:|",
    ]
    out += [f"| {layer} | {first[layer]:.3f} | {entropy[layer]:.3f} |" for layer in range(len(first))]
    pairs = nb1.get("pairs", {})
    if pairs:
        out += [
            "",
            "Q1d: head-averaged attention between the two nouns, per layer (the notebook's `attention_between`):",
            "",
            "| layer | " + " | ".join(pairs) + " |",
            "|---:|" + "---:|" * len(pairs),
        ]
        out += [
            f"| {layer} | " + " | ".join(f"{np.asarray(v)[layer]:.3f}" for v in pairs.values()) + " |"
            for layer in range(len(next(iter(pairs.values()))))
        ]

    # -- notebook 3 ---------------------------------------------------------------------------
    nb3 = run_solution(solutions / "03_enformer.ipynb", cache)
    filters, tracks, predictions = np.asarray(nb3["filters"]), nb3["tracks"], np.asarray(nb3["predictions"])
    out += section("Q4a (notebook 3): track extremes of the chr11 window")
    extremes = nb3["track_extremes"](predictions)
    out += [
        f"Predictions {predictions.shape} for {nb3['window']} ({nb3['sequence'].source}).",
        "",
        "| | track | description | mean | peak |",
        "|---|---:|---|---:|---:|",
    ]
    for label, index in zip(("highest mean", "lowest mean", "highest peak"), extremes):
        out.append(
            f"| {label} | {index} | {tracks.description[index]} | {predictions[:, index].mean():.4g} | {predictions[:, index].max():.4g} |"
        )

    out += section("Q4b: filter 0")
    logo0 = nb3["logo_matrix"](filters, 0)
    out += [
        f"First-layer filters {filters.shape}. Filter 0's consensus (tallest positive letter per position, `n` where none is positive): "
        f"`{consensus(logo0)}`; its sum |w| = {np.abs(filters[0]).sum():.3f}.",
        "",
        "| position | " + " | ".join("ACGT") + " |",
        "|---:|---:|---:|---:|---:|",
    ]
    out += [f"| {p} | " + " | ".join(f"{v:+.3f}" for v in row) + " |" for p, row in enumerate(logo0)]

    out += section("Q4c: the strongest filter and its JASPAR hits")
    strongest = int(nb3["strongest_filter"](filters))
    sums = np.abs(filters.astype(np.float64)).sum(axis=(1, 2))
    from . import motif_match

    with environ(A5KIT_MODE="replay", A5KIT_CACHE=str(cache)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hits = motif_match.tomtom_jaspar(filters[strongest])
        top = nb3["top_jaspar_hit"](filters)
    out += [
        f"Strongest filter (largest sum |w|): **{strongest}**, sum |w| = {sums[strongest]:.3f} (median over "
        f"filters {np.median(sums):.3f}); "
        f"consensus `{consensus(nb3['logo_matrix'](filters, strongest))}`. `top_jaspar_hit`: {top}.",
        "",
    ]
    out += _hits_table(hits)
    out += [
        "",
        "Null for comparison (the same Tomtom on filters with no motif; computed here, not in the cache): an all-zero filter "
        "(every column uniform) and the strongest filter with its positions shuffled (seed 0).",
    ]
    rng = np.random.default_rng(0)
    nulls = {
        "all-zero filter": np.zeros_like(filters[strongest]),
        "shuffled strongest filter": filters[strongest][:, rng.permutation(filters.shape[2])],
    }
    for name, weights in nulls.items():
        try:
            null_hits = _tomtom_live(weights)
            out += ["", f"*{name}:*", "", *_hits_table(null_hits, 3)]
        except Exception as err:  # memelite / pyjaspar missing on this machine
            out += ["", f"*{name}:* not computed ({type(err).__name__}: {str(err)[:200]})."]
    try:  # the null the notebook shows students: recorded by inputs.record_all
        with environ(A5KIT_MODE="replay", A5KIT_CACHE=str(cache)), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shuffles = motif_match.tomtom_null(filters[strongest])["e_value"][1:]
        out += [
            "",
            f"*The notebook's null (`tomtom_null`, from the cache):* best E of {len(shuffles)} shuffles from {shuffles.min():.3g} "
            f"to {shuffles.max():.3g}, median {np.median(shuffles):.3g}, {int((shuffles < 1).sum())} below 1 "
            f"(calibrated E: a third to a half).",
        ]
    except Exception as err:  # an older cache without it
        out += ["", f"*The notebook's null (`tomtom_null`):* not in the cache ({type(err).__name__})."]

    out += section("Q4d: the filter closest to the MYOD1 site")
    site = nb3.get(MYOD1_SITE_NAME, "GCGCAGCTGTCCTGA")
    closest = int(nb3["closest_filter"](filters, site))
    best = best_alignment(filters, closest, site)
    strand = "forward (the site as written)" if best["strand"] == "+" else f"reverse complement ({best['sequence']})"
    out += [
        f"Closest filter to `{site}`: **{closest}**, best on the **{best['strand']}** strand, {strand}, score {best['score']:.3f}; "
        f"the aligned sequence (`{best['sequence']}`) starts at offset **{best['offset']}** relative to the filter's first position "
        "(negative: before it; partial overlaps count, as in `closest_filter`). "
        f"Filter {closest}'s consensus: `{consensus(nb3['logo_matrix'](filters, closest))}`."
    ]

    out += section("Q6: effect of rs11644125 (Δ = sum over bins 446-449 of alt - ref)")
    effects = nb3["effects"]
    labels = list(effects.columns)
    out += ["| view | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for view, row in effects.iterrows():
        out.append(f"| {view} | " + " | ".join(f"{v:+.4g}" for v in row.to_numpy()) + " |")
    stable = {
        label: bool((np.sign(effects[label]) == np.sign(effects[label].loc["forward"])).all()) for label in labels
    }
    out += [
        "",
        "Sign the same as forward in every view: "
        + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in stable.items())
        + ".",
    ]
    ref, _alt = nb3["forward"]
    out += [
        "Ref signal in bins 446-449 (forward): "
        + "; ".join(f"{label}: {np.asarray(ref)[446:450, i].sum():.4g}" for i, label in enumerate(labels))
        + "."
    ]

    # -- notebook 4 ---------------------------------------------------------------------------
    out += section("Q5 (notebook 4): held-out Pearson r of the fine-tuning runs")
    out += _live_q5(live_notebooks)
    return "\n".join(out) + "\n"


def write(
    cache: Path, out: Path | None = None, solutions: Path | None = None, live_notebooks: Path | None = None
) -> Path:
    text = sheet(cache, solutions or ROOT / "solutions", live_notebooks)
    target = out or cache / "ANSWERS.md"
    target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.answers", description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("data/cache"))
    parser.add_argument("--solutions", type=Path, default=None)
    parser.add_argument(
        "--live-notebooks", type=Path, default=None, help="folder of executed notebooks (Q5's r from notebook 4)"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: CACHE/ANSWERS.md")
    args = parser.parse_args(argv)
    live = args.live_notebooks
    if live is None and (args.cache.parent / "notebooks").is_dir():  # make rehearse keeps them next to its cache
        live = args.cache.parent / "notebooks"
    path = write(args.cache, args.out, args.solutions, live)
    print(f"grader sheet written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
