"""The motif data set: reproducible from pinned JASPAR matrices, balanced, well-formed, and
carrying real motifs; the hidden test set is separate and follows its own seed."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from a5kit import motifs

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "src" / "a5kit" / "datasets"
FILES = {"training.txt": motifs.N_TRAIN, "validation.txt": motifs.N_VALIDATION}


@pytest.fixture(scope="module")
def pfms() -> dict[str, np.ndarray]:
    pytest.importorskip("pyjaspar")
    return motifs.load_pfms()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("pyjaspar")
    return motifs.write_dataset(tmp_path_factory.mktemp("motifs"))


def best_window_score(seqs: list[str], pfm: np.ndarray) -> np.ndarray:
    """Best log-odds score (vs a uniform background) of any full window of ``pfm`` in each sequence."""
    log_odds = np.log2((pfm + 0.01) / (1 + 0.04) / 0.25)
    width = len(log_odds)
    idx = np.array([[motifs.BASES.index(b) for b in s] for s in seqs])
    windows = [log_odds[np.arange(width), idx[:, o : o + width]].sum(axis=1) for o in range(idx.shape[1] - width + 1)]
    return np.max(windows, axis=0)


def test_importing_the_module_does_not_import_pyjaspar():
    code = "import sys, a5kit.motifs; assert 'pyjaspar' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(ROOT / "src")})


@pytest.mark.parametrize("name", FILES)
def test_regenerating_reproduces_the_committed_file_byte_for_byte(regenerated, name):
    assert regenerated[name].read_bytes() == (COMMITTED / name).read_bytes()


@pytest.mark.parametrize("name, n", FILES.items())
def test_each_tf_has_its_count(name, n):
    _, labels = motifs.read_tsv(COMMITTED / name)
    assert Counter(labels) == dict.fromkeys(motifs.TFS, n)


@pytest.mark.parametrize("name", FILES)
def test_every_sequence_is_18_bases_of_acgt(name):
    seqs, _ = motifs.read_tsv(COMMITTED / name)
    assert all(len(s) == motifs.SEQ_LEN and set(s) <= set("ACGT") for s in seqs)


@pytest.mark.parametrize("name", FILES)
def test_files_are_tab_separated_lines_without_header_ending_in_newline(name):
    text = (COMMITTED / name).read_text(encoding="ascii")
    assert text.endswith("\n")
    first = text.splitlines()[0].split("\t")
    assert len(first) == 2 and first[1] in motifs.TFS


def test_training_and_validation_are_shuffled_not_grouped_by_tf():
    _, labels = motifs.read_tsv(COMMITTED / "training.txt")
    assert len(set(labels[:50])) == len(motifs.TFS)


def test_write_and_read_round_trip(tmp_path):
    rows = [("ACGTACGTACGTACGTAC", "TP53"), ("TTTTTTTTTTTTTTTTTT", "MEF2A")]
    seqs, labels = motifs.read_tsv(motifs.write_tsv(rows, tmp_path / "x.txt"))
    assert list(zip(seqs, labels)) == rows


def test_pinned_ids_resolve_to_their_tf_names():
    pytest.importorskip("pyjaspar")
    from pyjaspar import jaspardb

    jdb = jaspardb(release=motifs.JASPAR_RELEASE)
    for tf, matrix_id in motifs.MATRIX_IDS.items():
        motif = jdb.fetch_motif_by_id(matrix_id)
        assert (motif.matrix_id, motif.name.upper(), motif.collection) == (matrix_id, tf, "CORE")
        assert motif.species == ["9606"]


def test_pfms_are_probabilities_over_acgt_per_position(pfms):
    assert set(pfms) == set(motifs.TFS)
    for pfm in pfms.values():
        assert pfm.ndim == 2 and pfm.shape[1] == 4 and pfm.shape[0] <= motifs.SEQ_LEN
        assert np.allclose(pfm.sum(axis=1), 1) and (pfm >= 0).all()


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(pfms):
    assert motifs.generate(20, 7, pfms) == motifs.generate(20, 7, pfms)
    assert motifs.generate(20, 7, pfms) != motifs.generate(20, 8, pfms)


def test_hidden_test_set_differs_from_training_and_validation(tmp_path):
    pytest.importorskip("pyjaspar")
    paths = motifs.write_dataset(tmp_path / "public", hidden_dir=tmp_path / "hidden", hidden_seed=123)
    test_seqs, test_labels = motifs.read_tsv(paths["test.txt"])
    assert Counter(test_labels) == dict.fromkeys(motifs.TFS, motifs.N_TEST)
    for name in FILES:
        seqs, _ = motifs.read_tsv(COMMITTED / name)
        shared = set(test_seqs) & set(seqs)
        assert len(shared) < 0.05 * len(test_seqs), f"{len(shared)} test sequences also in {name}"


def test_hidden_test_set_follows_the_hidden_seed_from_the_environment(tmp_path, monkeypatch):
    pytest.importorskip("pyjaspar")
    texts = []
    for seed in ("11", "12", "11"):
        monkeypatch.setenv(motifs.HIDDEN_SEED_ENV, seed)
        paths = motifs.write_dataset(tmp_path / "public", hidden_dir=tmp_path / f"hidden{len(texts)}")
        texts.append(paths["test.txt"].read_bytes())
    assert texts[0] == texts[2] != texts[1]


def test_without_hidden_dir_no_test_set_is_written(tmp_path):
    pytest.importorskip("pyjaspar")
    paths = motifs.write_dataset(tmp_path)
    assert set(paths) == set(FILES) and not (tmp_path / "test.txt").exists()


def test_each_tfs_pfm_scores_its_own_sequences_higher_than_the_others(pfms):
    seqs, labels = motifs.read_tsv(COMMITTED / "training.txt")
    labels = np.array(labels)
    for tf in motifs.TFS:
        scores = best_window_score(seqs, pfms[tf])
        own, other = scores[labels == tf].mean(), scores[labels != tf].mean()
        assert own > other + 2, f"{tf}: own {own:.1f} bits vs others {other:.1f}"


def test_command_line_writes_the_files(tmp_path):
    pytest.importorskip("pyjaspar")
    assert (
        motifs.main(["--out", str(tmp_path / "out"), "--hidden-out", str(tmp_path / "hidden"), "--hidden-seed", "5"])
        == 0
    )
    assert {p.name for p in tmp_path.rglob("*.txt")} == {"training.txt", "validation.txt", "test.txt"}


def test_command_line_refuses_a_hidden_set_without_a_seed(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(motifs.HIDDEN_SEED_ENV, raising=False)
    with pytest.raises(SystemExit):
        motifs.main(["--out", str(tmp_path / "out"), "--hidden-out", str(tmp_path / "hidden")])
    assert "--hidden-seed" in capsys.readouterr().err and not (tmp_path / "hidden").exists()


def test_load_split_reads_the_files_shipped_in_the_package():
    seqs, labels = motifs.load_split("training")
    assert len(seqs) == len(labels) == 5 * motifs.N_TRAIN
    assert set(labels) == set(motifs.TFS)


def test_load_split_refuses_the_hidden_test_set():
    with pytest.raises(ValueError, match="hidden"):
        motifs.load_split("test")


def test_the_package_has_no_hidden_seed_and_refuses_to_guess_one(monkeypatch):
    monkeypatch.delenv(motifs.HIDDEN_SEED_ENV, raising=False)
    assert not hasattr(motifs, "DEFAULT_HIDDEN_SEED")
    with pytest.raises(motifs.HiddenSeedMissing, match="make autograder"):
        motifs.hidden_seed_from_env()


def test_the_autograder_draws_a_new_hidden_seed_unless_one_is_given(monkeypatch):
    from a5kit import autograder

    monkeypatch.delenv(motifs.HIDDEN_SEED_ENV, raising=False)
    draws = {autograder.hidden_seed()[0] for _ in range(5)}
    assert len(draws) == 5 and autograder.hidden_seed()[1] == "drawn at random"
    assert autograder.hidden_seed(7) == (7, "given")
    monkeypatch.setenv(motifs.HIDDEN_SEED_ENV, "11")
    assert autograder.hidden_seed() == (11, f"from {motifs.HIDDEN_SEED_ENV}")
