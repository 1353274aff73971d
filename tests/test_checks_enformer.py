"""The checks of notebook 3 (Enformer) work, and so do the kit functions it added: the reference
solution of solutions/03_enformer.ipynb gets full points from the public and hidden cases, typical
wrong answers lose the case that is about them with a message that names the mistake; enformer
predictions restricted to tracks are cached under their own key; the Tomtom wrapper runs offline in
tiny mode and replays without memelite; and the notebook replays from a cache that record_all made."""

from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA
from notebook_checks import HIDDEN, failed, grade, reference_namespace, with_

from a5kit import cache, data, inputs, models, motif_match, nbmeta
from a5kit.checking import load_cases
from a5kit.checking.core import reference_module
from a5kit.public_checks import q4a as q4a_checks

REF = reference_module(HIDDEN)  # the instructor's reference implementations

NOTEBOOK = ROOT / "solutions" / "03_enformer.ipynb"
pytestmark = pytest.mark.usefixtures(
    "public_cases_replay_alike"
)  # the notebook and the autograder give the same points
POINTS = nbmeta.graded_points(NOTEBOOK, autograded=True)  # the grade cells' nbgrader points: the one source
WRITTEN = nbmeta.graded_points(NOTEBOOK, autograded=False)  # the written answers, graded by hand


@pytest.fixture(autouse=True)
def tiny_mode(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "tiny")


@pytest.fixture(scope="module")
def notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def reference(notebook) -> dict:
    """The namespace of the notebook's setup cell and solution cells: the reference solution."""
    return reference_namespace(notebook, NOTEBOOK.name)


# --- the reference gets everything ------------------------------------------------------------


@pytest.mark.parametrize("question", sorted(POINTS))
def test_reference_solution_gets_full_points(reference, question):
    results = grade(reference, question)
    assert not failed(results), {n: r.output for n, r in results.items() if not r.passed}
    assert sum(r.score for r in results.values()) == pytest.approx(POINTS[question])
    assert any(r.hidden for r in results.values()) and any(not r.hidden for r in results.values())


def test_grade_cells_carry_the_points_of_their_cases(notebook):
    assert set(POINTS) == {"q4a", "q4b", "q4c", "q4d", "q6"}
    for question, points in POINTS.items():
        assert sum(c.points for c in load_cases(question, HIDDEN)) == points
    for question, points in WRITTEN.items():  # the task says what the grade cell gives
        assert f"({points:g} point" in nbmeta.source(nbmeta.find(notebook, f"{question}-task")), question
    assert set(WRITTEN) == {"q4b-written", "q4c-written", "q4d-written", "q6-written"}


def test_notebook_states_shapes_tracks_and_definitions(notebook):
    text = "\n".join(c.source for c in notebook.cells)
    for fact in (
        "(200, 5313)",
        "5,313",
        "128 bp",
        "35,140,086",
        "4767",
        "2280",
        "(896, 2)",
        "sum of absolute",
        "reverse complement",
        "1-based",
        "Huang",
        "Sasse",
    ):
        assert fact in text, fact
    assert tuple(inputs.VARIANT_TRACKS) == (4767, 2280) and inputs.CHR11_TARGET_LENGTH == 200


# --- q4a ----------------------------------------------------------------------------------------


def _extremes(axis_mean=0, peak="max"):
    def track_extremes(predictions):
        p = np.asarray(predictions, dtype=float)
        mean = p.mean(axis=axis_mean)
        if peak == "max":
            top = int(p.max(axis=0).argmax())
        elif peak == "mean":
            top = int(mean.argmax())
        else:  # the bin of the global maximum: argmax over the wrong axis
            top = int(np.unravel_index(p.argmax(), p.shape)[0])
        return int(mean.argmax()), int(mean.argmin()), top

    return track_extremes


def test_transposed_predictions_are_told_to_average_over_bins(reference):
    results = grade(with_(reference, track_extremes=_extremes(axis_mean=1)), "q4a")
    assert failed(results) == {
        "finds_planted_extremes",
        "finds_planted_extremes_in_another_shape",
        "extremes_of_enformer_chr11_predictions",
    }
    assert all("(bins, tracks)" in results[n].output for n in failed(results))


def test_peak_argmax_over_the_wrong_axis_is_named(reference):
    results = grade(with_(reference, track_extremes=_extremes(peak="bin")), "q4a")
    assert "finds_planted_extremes" in failed(results)
    assert "argmax over the wrong axis" in results["finds_planted_extremes"].output


def test_peak_by_flat_argmax_is_told_it_is_a_flattened_position(reference):
    """Issue 22: argmax without an axis was called 'bin indices'."""

    def flat_peak(predictions):
        p = np.asarray(predictions, dtype=float)
        return int(p.mean(axis=0).argmax()), int(p.mean(axis=0).argmin()), int(p.argmax())

    results = grade(with_(reference, track_extremes=flat_peak), "q4a")
    outputs = [r.output for r in results.values() if not r.passed]
    assert outputs and all("flattened" in o and "bin indices" not in o for o in outputs), outputs


def test_peak_by_mean_is_told_peak_means_max(reference):
    results = grade(with_(reference, track_extremes=_extremes(peak="mean")), "q4a")
    assert "finds_planted_extremes" in failed(results)
    assert "largest single-bin value" in results["finds_planted_extremes"].output


def test_planted_extremes_differ_from_the_typical_mistakes():
    p, (high, low, peak) = q4a_checks.planted_predictions(2, 200, 40)
    assert REF.extremes(p) == (high, low, peak) and peak != high


def test_plot_over_bin_numbers_is_told_to_use_genomic_positions(reference):
    def plot_bins(values, description, chrom, start, ax=None):
        ax = ax or plt.subplots()[1]
        ax.plot(np.arange(len(values)), values)
        ax.set(title=description, xlabel=f"{chrom} bin")
        return ax

    results = grade(with_(reference, plot_track=plot_bins), "q4a")
    assert failed(results) == {"plot_track_draws_bins_at_genomic_positions_with_a_title"}
    assert "genomic position" in results["plot_track_draws_bins_at_genomic_positions_with_a_title"].output


# --- q4b, q4c -----------------------------------------------------------------------------------


def test_logo_matrix_not_transposed_is_told_so(reference):
    results = grade(with_(reference, logo_matrix=lambda w, i: np.asarray(w)[i]), "q4b")
    assert failed(results) == set(results)
    assert all("transposed?" in r.output for r in results.values())


def test_logo_matrix_by_reshape_is_told_to_transpose(reference):
    """Issue 22: reshape(-1, 4) has the right shape and the wrong numbers."""
    results = grade(
        with_(reference, logo_matrix=lambda weights, index: np.asarray(weights)[index].reshape(-1, 4)), "q4b"
    )
    assert failed(results) == set(results)
    assert all("reshape(-1, 4)" in r.output and ".T" in r.output for r in results.values())


def test_strongest_filter_by_signed_sum_or_max_is_told_to_sum_absolute_values(reference):
    signed = with_(reference, strongest_filter=lambda w: int(np.asarray(w, dtype=float).sum(axis=(1, 2)).argmax()))
    results = grade(signed, "q4c")
    for name in (
        "strongest_filter_returns_the_largest_total_absolute_weight",
        "strongest_filter_uses_absolute_weights_summed_over_the_filter",
    ):
        assert "use absolute values" in results[name].output
    peak = with_(reference, strongest_filter=lambda w: int(np.abs(np.asarray(w)).max(axis=(1, 2)).argmax()))
    results = grade(peak, "q4c")
    for name in (
        "strongest_filter_returns_the_largest_total_absolute_weight",
        "strongest_filter_uses_absolute_weights_summed_over_the_filter",
    ):
        assert "single largest |w|" in results[name].output


def test_second_tomtom_hit_is_told_the_first_is_best(reference):
    def second_hit(weights):
        hits = motif_match.tomtom_jaspar(np.asarray(weights)[reference["strongest_filter"](weights)])
        return str(hits["matrix_id"][1]), str(hits["name"][1])

    results = grade(with_(reference, top_jaspar_hit=second_hit), "q4c")
    assert failed(results) == {"top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter"}
    output = results["top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter"].output
    assert "hit number 2" in output and "a softmax or normalisation" in output  # names the other way to a lower hit


def _signed_strongest(weights):
    return int(np.asarray(weights, dtype=float).sum(axis=(1, 2)).argmax())  # a typical mistake: no absolute value


def _top_hit_of(strongest):
    def top_jaspar_hit(weights):  # consistent with the student's own (wrong) strongest_filter
        hits = motif_match.tomtom_jaspar(np.asarray(weights)[strongest(weights)])
        return str(hits["matrix_id"][0]), str(hits["name"][0])

    return top_jaspar_hit


@pytest.mark.parametrize("mistake", ["signed sum", "filter 0"])
def test_q4c_scores_the_same_in_the_notebook_and_in_replay_when_strongest_filter_is_wrong(
    reference, tiny_cache, monkeypatch, mistake
):
    """The grade cell (tiny or live) and the autograder (replay of a recorded cache) give the same points:
    top_jaspar_hit is judged on the filter the student's own strongest_filter picks, so replay must hold
    Tomtom for every filter (issue 22: 1/3 in the notebook, 0/3 from the autograder)."""
    strongest = _signed_strongest if mistake == "signed sum" else (lambda weights: 0)
    mistaken = with_(reference, strongest_filter=strongest, top_jaspar_hit=_top_hit_of(strongest))
    in_notebook = {name: r.score for name, r in grade(mistaken, "q4c").items()}
    monkeypatch.setenv("A5KIT_MODE", "replay")
    monkeypatch.setenv("A5KIT_CACHE", str(tiny_cache))
    replayed = grade(mistaken, "q4c")
    assert {name: r.score for name, r in replayed.items()} == in_notebook
    assert in_notebook["top_jaspar_hit_is_the_best_tomtom_match_of_the_strongest_filter"] == 1
    assert not any("not in cache" in r.output for r in replayed.values())


# --- q4d ----------------------------------------------------------------------------------------


def _closest(strands=2, slide=True, other_strand=None):
    def closest_filter(weights, motif):
        w = np.asarray(weights, dtype=float)
        seqs = [motif, (other_strand or REF.revcomp)(motif)][:strands]
        if slide:
            return int(np.max([REF.strand_scores(w, s) for s in seqs], axis=0).argmax())
        return int(np.max([REF.aligned_scores(w, s) for s in seqs], axis=0).argmax())

    return closest_filter


def test_closest_filter_on_one_strand_only_is_told_to_score_both(reference):
    results = grade(with_(reference, closest_filter=_closest(strands=1)), "q4d")
    assert {"closest_filter_finds_a_match_on_the_reverse_strand", "closest_filter_scores_both_strands"} <= failed(
        results
    )
    assert "reverse complement" in results["closest_filter_finds_a_match_on_the_reverse_strand"].output
    assert "reverse complement" in results["closest_filter_scores_both_strands"].output
    assert "closest_filter_slides_along_the_motif" not in failed(results)
    assert "closest_filter_keeps_the_best_offset" not in failed(results)


def test_closest_filter_with_summed_strands_is_not_told_it_scored_one_strand(reference):
    """Issue 22: adding the two strands' scores was called 'forward strand only'."""

    def summed(weights, motif):
        w = np.asarray(weights, dtype=float)
        return int((REF.strand_scores(w, motif) + REF.strand_scores(w, REF.revcomp(motif))).argmax())

    results = grade(with_(reference, closest_filter=summed), "q4d")
    outputs = [r.output for r in results.values() if not r.passed]
    assert outputs and all("added" in o and "not the sum" in o for o in outputs), outputs


def test_closest_filter_by_a_normalised_score_is_told_to_use_the_raw_score(reference):
    """Issue 22: the task asks for the raw alignment score; a score divided by the filter norm passed every case."""

    def normalised(weights, motif):
        w = np.asarray(weights, dtype=float)
        best = np.maximum(REF.strand_scores(w, motif), REF.strand_scores(w, REF.revcomp(motif)))
        return int((best / np.linalg.norm(w, axis=(1, 2))).argmax())

    results = grade(with_(reference, closest_filter=normalised), "q4d")
    case_name = "closest_filter_finds_a_planted_forward_match"
    assert case_name in failed(results) and not results[case_name].hidden
    assert "raw alignment score" in results[case_name].output


def test_closest_filter_with_the_complement_not_reversed_is_told_so_in_a_public_check(reference):
    complement = _closest(other_strand=lambda m: m.translate(str.maketrans("ACGT", "TGCA")))
    results = grade(with_(reference, closest_filter=complement), "q4d")
    assert "closest_filter_finds_a_match_on_the_reverse_strand" in failed(results)
    assert "complemented but not reversed" in results["closest_filter_finds_a_match_on_the_reverse_strand"].output


def test_closest_filter_without_sliding_is_told_to_slide(reference):
    results = grade(with_(reference, closest_filter=_closest(slide=False)), "q4d")
    assert "closest_filter_slides_along_the_motif" in failed(results)
    assert "slide the filter" in results["closest_filter_slides_along_the_motif"].output
    assert "closest_filter_keeps_the_best_offset" in failed(results)  # public, on other inputs
    assert "keep the best offset" in results["closest_filter_keeps_the_best_offset"].output
    assert "closest_filter_scores_both_strands" not in failed(results)


def test_filter_alignment_reports_the_strand_and_offset_of_the_grader_sheet_and_not_the_score():
    from a5kit import answers

    weights = np.random.default_rng(3).normal(size=(12, 4, 15))
    motif = "GCGCAGCTGTCCTGA"
    for index in range(len(weights)):
        best = answers.best_alignment(weights, index, motif)
        assert motif_match.filter_alignment(weights, index, motif) == (best["strand"], best["offset"])

    def spike(kmer: str, first_column: int, width: int = 5) -> np.ndarray:
        w = np.zeros((1, 4, width))
        for j, base in enumerate(kmer):
            w[0, "ACGT".index(base), first_column + j] = 1.0
        return w

    assert motif_match.filter_alignment(spike("TCAGG", 0), 0, motif) == (
        "-",
        0,
    )  # only in the reverse complement TCAGGACAGCTGCGC
    assert motif_match.filter_alignment(spike("GCGCA", 0), 0, motif) == ("+", 0)
    assert motif_match.filter_alignment(spike("TGA", 0), 0, motif) == (
        "+",
        -12,
    )  # the site's last 3 bases on the filter's first columns


# --- q6 -----------------------------------------------------------------------------------------


def test_zero_based_position_slip_is_told_positions_are_1_based(reference):
    def apply_slipped(sequence, start, position, ref, alt):
        i = position - start  # forgot the - 1
        return sequence[:i] + alt + sequence[i + 1 :]

    def apply_slipped_checked(sequence, start, position, ref, alt):
        if sequence[position - start] != ref:
            raise ValueError("reference base mismatch")
        return apply_slipped(sequence, start, position, ref, alt)

    for slipped in (apply_slipped, apply_slipped_checked):
        results = grade(with_(reference, apply_variant=slipped), "q6")
        assert {
            "apply_variant_changes_the_base_at_the_1_based_position",
            "apply_variant_on_the_rs11644125_window",
        } <= failed(results)
        assert "1-based" in results["apply_variant_changes_the_base_at_the_1_based_position"].output
        assert not failed(results) & {
            "variant_effect_sums_alt_minus_ref_over_the_bins",
            "reverse_complement_of_a_short_sequence",
        }


def test_apply_variant_without_the_reference_check_loses_only_that_case(reference):
    def unchecked(sequence, start, position, ref, alt):
        i = position - 1 - start
        return sequence[:i] + alt + sequence[i + 1 :]

    results = grade(with_(reference, apply_variant=unchecked), "q6")
    assert failed(results) == {"apply_variant_raises_value_error_when_the_reference_base_differs"}


def test_alt_minus_ref_sign_flipped_is_told_so(reference):
    effect = reference["variant_effect"]
    results = grade(with_(reference, variant_effect=lambda r, a, t, b: effect(a, r, t, b)), "q6")
    assert failed(results) == {
        "variant_effect_sums_alt_minus_ref_over_the_bins",
        "variant_effect_on_other_tracks_and_bins",
    }
    assert all("sign is flipped" in results[n].output for n in failed(results))


def test_transposed_or_averaged_predictions_are_explained(reference):
    def transposed(r, a, tracks, bins):
        r, a = np.asarray(r), np.asarray(a)
        return (a[tracks][:, bins] - r[tracks][:, bins]).sum(axis=1)

    def averaged(r, a, tracks, bins):
        return reference["variant_effect"](r, a, tracks, bins) / len(bins)

    results = grade(with_(reference, variant_effect=transposed), "q6")
    assert "(bins, tracks)" in results["variant_effect_sums_alt_minus_ref_over_the_bins"].output
    results = grade(with_(reference, variant_effect=averaged), "q6")
    assert "mean over the bins" in results["variant_effect_sums_alt_minus_ref_over_the_bins"].output


def test_reverse_without_complement_is_told_so(reference):
    results = grade(with_(reference, reverse_complement=lambda s: s[::-1]), "q6")
    assert failed(results) == {"reverse_complement_of_a_short_sequence", "reverse_complement_of_a_long_sequence"}
    assert "reversed but not complemented" in results["reverse_complement_of_a_short_sequence"].output


def test_a_missing_function_costs_only_its_cases(reference):
    results = grade(with_(reference, variant_effect=None), "q6")
    assert failed(results) == {
        "variant_effect_sums_alt_minus_ref_over_the_bins",
        "variant_effect_on_other_tracks_and_bins",
    }
    assert "no function named variant_effect()" in results["variant_effect_on_other_tracks_and_bins"].output


# --- kit: predictions of selected tracks ----------------------------------------------------------


def _short_sequence() -> str:
    return "".join(np.random.default_rng(0).choice(list("ACGT"), size=128 * 16))


def test_tracks_are_part_of_the_cache_key_and_only_those_columns_are_stored(monkeypatch, cache_dir):
    seq = _short_sequence()
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setenv("A5KIT_TINY", "1")
    full = models.enformer_predict(seq)
    two = models.enformer_predict(seq, tracks=[4767, 2280])
    np.testing.assert_array_equal(two, full[:, [4767, 2280]])
    store = cache.Cache(cache_dir)
    entries = store.entries_for("enformer_predict")
    assert sorted(tuple(e["arrays"]["predictions"]["shape"]) for e in entries) == [(16, 2), (16, 5313)]
    # the key of a call without tracks is unchanged, so existing caches stay valid
    assert store.find("enformer_predict", cache.sha256_bytes(seq), {"target_length": 16}) is not None
    monkeypatch.setenv("A5KIT_MODE", "replay")
    np.testing.assert_array_equal(models.enformer_predict(seq, tracks=(4767, 2280)), two)
    with pytest.raises(cache.CacheMiss, match="tracks"):
        models.enformer_predict(seq, tracks=[2280, 4767])


@pytest.mark.parametrize("tracks", [[], [5313], [-1]])
def test_bad_tracks_are_refused(tracks):
    with pytest.raises(ValueError, match="track indices"):
        models.enformer_predict(_short_sequence(), tracks=tracks)


def test_variant_sequences_differ_only_where_they_should():
    seqs = inputs.variant_sequences(data.hg38_sequence(inputs.VARIANT_WINDOW))
    assert len(seqs) == 2 * (2 + len(inputs.VARIANT_SHIFTS))
    centre = inputs.VARIANT.pos0 - inputs.VARIANT_WINDOW.start
    ref, alt = seqs[("forward", "ref")], seqs[("forward", "alt")]
    assert ref[centre] == "C" and [i for i in range(len(ref)) if ref[i] != alt[i]] == [centre]
    rc = seqs[("reverse complement", "alt")]
    assert rc[len(rc) - 1 - centre] == "A"  # complement of T, mirrored
    assert seqs[("shift +2 bp", "alt")][centre - 2] == "T" and seqs[("shift +2 bp", "ref")].endswith("NN")
    # bin arithmetic of the notebook: the variant is in output bin 448 forward and after flipping rc
    flank = (len(ref) - models.ENFORMER_MAX_BINS * models.ENFORMER_BIN_SIZE) // 2
    assert (centre - flank) // 128 == 448 and models.ENFORMER_MAX_BINS - 1 - (
        len(ref) - 1 - centre - flank
    ) // 128 == 448
    assert 448 in inputs.CENTRE_BINS


# --- kit: Tomtom against JASPAR ---------------------------------------------------------------------


def test_filter_to_ppm_is_a_column_softmax():
    w = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 2], [0, 0, 0]])
    p = motif_match.filter_to_ppm(w)
    np.testing.assert_allclose(p.sum(axis=0), 1)
    assert p[:, 0].argmax() == 0 and p[:, 2].argmax() == 2 and np.allclose(p[:, 1], 0.25)
    with pytest.raises(ValueError, match=r"\(4, width\)"):
        motif_match.filter_to_ppm(w.T)


def test_tomtom_runs_offline_in_tiny_mode_and_replays_without_memelite(monkeypatch, cache_dir):
    filters = models.enformer_first_layer_filters()
    query = filters[REF.strongest(filters)]
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setenv("A5KIT_TINY", "1")
    with pytest.warns(cache.TinyResultWarning):
        cache._warned.clear()
        hits = motif_match.tomtom_jaspar(query)
    ids, names, _ = motif_match.jaspar_matrices()
    assert len(ids) > 800 and all(i.startswith("MA") for i in ids)  # JASPAR2024 CORE vertebrates, bundled
    assert len(hits["matrix_id"]) == motif_match.N_HITS and np.all(np.diff(hits["p_value"]) >= 0)
    assert set(hits["strand"]) <= {"+", "-"} and all(
        names[ids.index(m)] == n for m, n in zip(hits["matrix_id"], hits["name"])
    )
    entry = cache.Cache(cache_dir).entries_for("tomtom_jaspar")[0]
    assert entry["tiny"] and entry["input_sha256"] == cache.array_sha256(np.asarray(query, dtype=np.float32))
    monkeypatch.setenv("A5KIT_MODE", "replay")
    for blocked in ("memelite", "pyjaspar"):
        monkeypatch.setitem(sys.modules, blocked, None)  # importing it would raise
    replayed = motif_match.tomtom_jaspar(query.astype(np.float64))  # same values, other dtype: same key
    assert {k: v.tolist() for k, v in replayed.items()} == {k: v.tolist() for k, v in hits.items()}
    with pytest.raises(cache.CacheMiss, match="tomtom_jaspar"):
        motif_match.tomtom_jaspar(query + 1e-3)


def test_enformer_tracks_replay_from_the_cache(shared_mirror, monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "record")
    tracks = data.enformer_tracks()
    monkeypatch.setenv("A5KIT_MODE", "replay")
    monkeypatch.delenv("A5KIT_DATA_MIRROR")
    replayed = data.enformer_tracks()
    assert replayed.equals(tracks) and list(replayed.columns)[:3] == ["index", "genome", "identifier"]
    assert replayed.description[4767] == "CAGE:Neutrophils," and replayed.description[2280] == "CHIP:H3K27ac:neutrophil"


@pytest.mark.slow
def test_notebook_replays_from_a_recorded_tiny_cache_without_memelite_or_pyjaspar(tmp_path):
    """record_all is the single list of inputs: a cache it made serves the whole notebook."""
    import nbclient

    if not (SHARED_DATA / "targets_human.txt").exists():
        pytest.skip("needs targets_human.txt in ../shared/data")
    from a5kit.__main__ import cmd_cache

    old = os.environ.get("A5KIT_DATA_MIRROR")
    os.environ["A5KIT_DATA_MIRROR"] = str(SHARED_DATA)
    try:
        cmd_cache(tmp_path / "cache", tiny=True)
    finally:
        os.environ.pop("A5KIT_DATA_MIRROR") if old is None else os.environ.__setitem__("A5KIT_DATA_MIRROR", old)
    added = sum(f.stat().st_size for f in (tmp_path / "cache").glob("*.npz"))
    assert added < 10e6
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import sys; print('HEAVY', [m for m in ('memelite', 'pyjaspar', 'numba') if m in sys.modules])"
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(
        A5KIT_MODE="replay",
        A5KIT_CACHE=str(tmp_path / "cache"),
        A5KIT_DATA_DIR=str(tmp_path / "empty"),
        HF_HUB_OFFLINE="1",
        MPLBACKEND="Agg",
        A5KIT_HIDDEN_TESTS=str(HIDDEN),
    )
    nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute(env=env)
    errors = [
        (c.id, o.ename, o.evalue[:200]) for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert errors == []
    scores = [
        float(o.data["text/plain"])
        for c in nb.cells
        if nbmeta.meta(c).autograded
        for o in c.outputs
        if o.output_type == "execute_result"
    ]
    assert sum(scores) == pytest.approx(sum(POINTS.values()))
    assert "HEAVY []" in "".join(o.get("text", "") for o in nb.cells[-1].outputs)


def test_replacing_the_first_matching_base_is_named_by_a_public_check(reference):
    """Issue 22: str.replace(ref, alt, 1) changes the first match anywhere; the public input has a C before the variant's."""

    def first_match(sequence, start, position, ref, alt):
        if sequence[position - 1 - start] != ref:
            raise ValueError("reference base mismatch")
        return sequence.replace(ref, alt, 1)

    results = grade(with_(reference, apply_variant=first_match), "q6")
    public = "apply_variant_changes_the_base_at_the_1_based_position"
    assert public in failed(results) and "str.replace(ref, alt, 1)" in results[public].output
    assert not results[public].hidden
    assert not failed(results) & {
        "apply_variant_raises_value_error_when_the_reference_base_differs",
        "variant_effect_sums_alt_minus_ref_over_the_bins",
    }


@pytest.mark.parametrize(
    "mistake, named",
    [
        (
            lambda ref, alt, tracks, bins: np.abs(np.asarray(alt, float) - ref)[bins][:, tracks].sum(axis=0),
            "|alt - ref|",
        ),
        (
            lambda ref, alt, tracks, bins: (np.asarray(alt, float) - ref)[:, tracks].sum(axis=0),
            "only over the given bins",
        ),
    ],
)
def test_variant_effect_with_absolute_values_or_every_bin_is_named(reference, mistake, named):
    """Issue 22: |Δ| and a sum over every bin got a generic 'values differ' message."""
    results = grade(with_(reference, variant_effect=mistake), "q6")
    for case_name in ("variant_effect_sums_alt_minus_ref_over_the_bins", "variant_effect_on_other_tracks_and_bins"):
        assert case_name in failed(results) and named in results[case_name].output, results[case_name].output
