"""Measure the kit's Tomtom query settings: calibration on filters without a motif, recovery of JASPAR matrices.

Usage: ``PYTHONPATH=src python scripts/tomtom_calibration.py [--n-null 200]`` (offline; about a minute
after memelite's one-off compilation). Prints a markdown table; docs/tomtom.md holds the measured one.

For each setting (top-column bits ``ic_max``, end-trim bits ``ic_trim``, with or without the old
Sidak correction over offsets) it reports, over null filters (Gaussian N(0, 0.1) filters (4, 15) and
shuffles of a MYOD1-like filter), the mean number of matrices at E < 1 (a calibrated E gives 1) and the
share whose best E-value is below 1 and below 0.05 (about 0.05; 1 - 1/e = 0.63 only if the 879
matrices were independent), and over every JASPAR matrix turned into a filter
(log-odds, and log-odds plus noise and noisy flanks) the share that finds itself first, that finds
its TF family first, and that finds itself with E <= 1e-4.
"""

from __future__ import annotations

import argparse

import numpy as np

from a5kit import motif_match as mm

MYOD1 = "MA0499.3"
MYOD1_SITE = "GCGCAGCTGTCCTGA"  # notebook 3, Q4d
SETTINGS = [
    (1.5, 0.5, True),
    (1.5, 0.5, False),
    (1.75, 0.5, False),
    (2.0, 0.5, False),
    (1.5, 1.0, False),
    (1.75, 1.0, False),
    (2.0, 1.0, False),
]


def log_odds(ppm: np.ndarray) -> np.ndarray:
    """Log-odds (bits) of a probability matrix against a uniform background, 20 sites plus one pseudo-site."""
    return np.log2((ppm * 20 + 0.25) / 21 / 0.25)


def one_hot(seq: str) -> np.ndarray:
    """A (4, len) one-hot filter of a DNA string."""
    return np.array([[float(c == b) for c in seq] for b in mm.BASES])


def e_values(weights: np.ndarray, ic_max: float, ic_trim: float, sidak: bool) -> np.ndarray | None:
    """E-value of every JASPAR matrix for one filter under a setting (``None``: no informative column)."""
    query, _, _ = mm.query_matrix(weights, ic_max, ic_trim)
    if query is None:
        return None
    p = mm.target_p_values(query)[0]
    if sidak:  # the kit's old, double correction over the n_q + n_t - 1 offsets
        n = query.shape[1] + np.array([m.shape[1] for m in mm.jaspar_matrices()[2]]) - 1
        p = np.maximum(-np.expm1(n * np.log1p(-np.minimum(p, 1 - 1e-16))), p)
    return p * len(p)


def families() -> list[set[str]]:
    """TF families of the matrices, in ``jaspar_matrices()`` order (pyjaspar annotations)."""
    from pyjaspar import jaspardb

    motifs = jaspardb(release=mm.JASPAR_RELEASE).fetch_motifs(
        collection=mm.COLLECTION, tax_group=[mm.TAX_GROUP], all_versions=False
    )
    by_id = {m.matrix_id: set(m.tf_family or []) for m in motifs}
    return [by_id[i] for i in mm.jaspar_matrices()[0]]


def measure(n_null: int = 200, seed: int = 0) -> list[dict[str, float]]:
    """One row of measurements per setting in ``SETTINGS``."""
    ids, _, matrices = mm.jaspar_matrices()
    fam = families()
    rng = np.random.default_rng(seed)
    myod1_pwm = log_odds(matrices[ids.index(MYOD1)])
    strong = rng.normal(scale=0.05, size=(4, 15))
    strong[:, 3 : 3 + myod1_pwm.shape[1]] += 0.5 * myod1_pwm
    nulls = [rng.normal(scale=0.1, size=(4, 15)) for _ in range(n_null)] + list(
        mm.shuffled_filters(strong, n_null, seed=1)
    )
    clean = [log_odds(m) for m in matrices]
    noisy = []
    for w in clean:
        flank = rng.normal(scale=0.5, size=(4, 3))
        noisy.append(np.hstack([flank, w + rng.normal(scale=0.5, size=w.shape), rng.normal(scale=0.5, size=(4, 3))]))
    rows = []
    for ic_max, ic_trim, sidak in SETTINGS:
        row: dict[str, float] = {"ic_max": ic_max, "ic_trim": ic_trim, "sidak": float(sidak)}
        for label, group in (("gauss", nulls[:n_null]), ("shuffle", nulls[n_null:])):
            es = [e_values(w, ic_max, ic_trim, sidak) for w in group]
            best = np.array([np.inf if e is None else e.min() for e in es])
            row[f"{label}_n(E<1)"] = np.mean([0 if e is None else np.sum(e < 1) for e in es])
            row[f"{label}<1"], row[f"{label}<0.05"], row[f"{label}_min"] = (
                np.mean(best < 1),
                np.mean(best < 0.05),
                best.min(),
            )
        for label, group in (("clean", clean), ("noisy", noisy)):
            self_top = family_top = self_sig = 0
            for i, w in enumerate(group):
                e = e_values(w, ic_max, ic_trim, sidak)
                if e is None:
                    continue
                top = int(np.argmin(e))
                self_top += e[top] == e[i]
                family_top += top == i or bool(fam[top] & fam[i])
                self_sig += e[i] <= 1e-4
            n = len(group)
            row[f"{label}_self"], row[f"{label}_family"], row[f"{label}_E<=1e-4"] = (
                self_top / n,
                family_top / n,
                self_sig / n,
            )
        for label, w in (("myod1_pwm", myod1_pwm), ("myod1_strong", strong), ("myod1_site", one_hot(MYOD1_SITE))):
            e = e_values(w, ic_max, ic_trim, sidak)
            row[f"{label}_E"], row[f"{label}_rank"] = (
                float(e[ids.index(MYOD1)]),
                float(1 + np.sum(e < e[ids.index(MYOD1)])),
            )
        rows.append(row)
    return rows


def table(rows: list[dict[str, float]]) -> str:
    """The measurements as a markdown table."""
    keys = list(rows[0])
    fmt = lambda k, v: (
        ("yes" if v else "no") if k == "sidak" else (f"{v:.2g}" if k.endswith(("_E", "_min")) else f"{v:.3g}")
    )
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(k, r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-null", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(table(measure(args.n_null, args.seed)))
