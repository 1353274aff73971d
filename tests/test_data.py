import json

import numpy as np
import pytest

from a5kit import data
from a5kit.cache import Cache

CLOSED_PORT_URL = "http://127.0.0.1:9/nothing-here.txt"  # loopback, nothing listens: fails at once


def test_registry_pins_every_file_to_a_commit_and_a_sha256():
    for entry in data.REGISTRY.values():
        assert len(entry.sha256 or "") == 64
        assert "/main/" not in entry.url and "/master/" not in entry.url


def test_targets_come_from_the_mirror_and_pass_the_hash(shared_mirror, tmp_path):
    path = data.fetch("targets_human.txt")
    assert path.parent == tmp_path / "downloads"
    assert path.read_bytes() == (shared_mirror / "targets_human.txt").read_bytes()


def test_enformer_tracks_are_5313_in_output_order(shared_mirror):
    tracks = data.enformer_tracks()
    assert len(tracks) == 5313
    assert list(tracks["index"]) == list(range(5313))
    assays = tracks["description"].str.split(":").str[0].value_counts().to_dict()
    assert assays == {"CHIP": 3991, "DNASE": 674, "CAGE": 638, "ATAC": 10}


def test_a_damaged_mirror_file_is_refused(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "targets_human.txt").write_text("not the tracks\n")
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(mirror))
    with pytest.raises(data.DataUnavailable, match="sha256"):
        data.fetch("targets_human.txt")


def test_a_mirror_without_the_file_says_how_to_provide_it(tmp_path, monkeypatch):
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(tmp_path))
    with pytest.raises(data.DataUnavailable, match="A5KIT_DATA_MIRROR") as err:
        data.fetch("targets_human.txt")
    assert data.REGISTRY["targets_human.txt"].url in str(err.value)


def test_offline_without_mirror_gives_one_line_naming_file_url_and_remedy():
    with pytest.raises(data.DataUnavailable) as err:
        data.download("thing.txt", CLOSED_PORT_URL, sha256=None)
    message = str(err.value)
    assert "\n" not in message
    assert "thing.txt" in message and CLOSED_PORT_URL in message and "A5KIT_DATA_MIRROR" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_cli_fetch_offline_prints_one_line_and_fails(capsys, monkeypatch):
    from a5kit.__main__ import main

    monkeypatch.setitem(data.REGISTRY, "thing.txt", data.RemoteFile("thing.txt", CLOSED_PORT_URL, None))
    assert main(["fetch", "thing.txt"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "thing.txt" in err


def test_notebook_windows_have_the_documented_coordinates():
    assert str(data.CHR11_WINDOW) == "chr11:35127286-35152886"
    assert len(data.CHR11_WINDOW) == 25_600
    assert len(data.CHR11_FULL) == len(data.CHR16_FULL) == 196_608
    assert data.CHR11_FULL.start + len(data.CHR11_FULL) // 2 == data.CHR11_CENTER
    # the variant sits at the centre of its window, 0-based
    assert data.RS11644125.pos0 - data.CHR16_FULL.start == 196_608 // 2


def test_interval_rejects_empty_or_negative_ranges():
    with pytest.raises(ValueError):
        data.Interval("chr1", 10, 10)
    with pytest.raises(ValueError):
        data.Interval("chr1", -1, 10)


def test_synthetic_sequence_is_deterministic_and_overlaps_agree():
    full = data.synthetic_sequence(data.CHR11_FULL)
    window = data.synthetic_sequence(data.CHR11_WINDOW)
    offset = data.CHR11_WINDOW.start - data.CHR11_FULL.start
    assert window == full[offset : offset + len(window)]
    assert data.synthetic_sequence(data.CHR11_WINDOW) == window
    assert set(window) == set("ACGT") and window.synthetic


def test_synthetic_sequence_carries_the_variant_reference_base():
    seq = data.synthetic_sequence(data.CHR16_FULL)
    assert seq[data.RS11644125.pos0 - data.CHR16_FULL.start] == "C"


def test_tiny_mode_serves_a_labelled_synthetic_window(tiny):
    seq = data.hg38_sequence(data.CHR11_WINDOW)
    assert len(seq) == 25_600 and seq.interval == data.CHR11_WINDOW
    assert "synthetic" in seq.source


def _ucsc_mirror(tmp_path, interval, dna):
    mirror = tmp_path / "mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    name = f"hg38_{interval.chrom}_{interval.start}_{interval.end}.json"
    (mirror / name).write_text(json.dumps({"genome": "hg38", "chrom": interval.chrom, "dna": dna}))
    return mirror


def test_live_window_is_read_from_a_ucsc_answer_and_uppercased(tmp_path, monkeypatch):
    interval = data.Interval("chr1", 1000, 1012)
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path, interval, "acgtNNACGTac")))
    seq = data.hg38_sequence(interval)
    assert seq == "ACGTNNACGTAC" and seq.source == "hg38 (UCSC)"


def test_record_then_replay_serves_the_window_without_network(tmp_path, monkeypatch):
    interval = data.Interval("chr1", 1000, 1012)
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path, interval, "ACGTACGTACGT")))
    monkeypatch.setenv("A5KIT_MODE", "record")
    recorded = data.hg38_sequence(interval)
    monkeypatch.setenv("A5KIT_MODE", "replay")
    monkeypatch.delenv("A5KIT_DATA_MIRROR")
    assert data.hg38_sequence(interval) == recorded


def test_live_window_differing_from_the_recorded_hash_is_refused(tmp_path, monkeypatch):
    interval = data.Interval("chr1", 1000, 1012)
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path, interval, "ACGTACGTACGT")))
    monkeypatch.setenv("A5KIT_MODE", "record")
    data.hg38_sequence(interval)
    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path / "other", interval, "TTTTACGTACGT")))
    monkeypatch.setenv("A5KIT_DATA_DIR", str(tmp_path / "fresh-downloads"))
    monkeypatch.setenv("A5KIT_LIVE_MEMO", str(tmp_path / "fresh-memo"))  # a new runtime: nothing memoised yet
    with pytest.raises(data.DataUnavailable, match="does not match"):
        data.hg38_sequence(interval)


def test_a_wrong_length_answer_is_refused(tmp_path, monkeypatch):
    interval = data.Interval("chr1", 1000, 1012)
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path, interval, "ACGT")))
    with pytest.raises(data.DataUnavailable, match="4 bp"):
        data.hg38_sequence(interval)


@pytest.fixture
def fasta(tmp_path):
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("acgtACGT"), 500))
    path = tmp_path / "mini.fa"
    path.write_text(">chr1\n" + "\n".join(seq[i : i + 60] for i in range(0, 500, 60)) + "\n")
    return path, seq


def test_local_fasta_window_is_uppercase_and_0_based_half_open(fasta):
    path, seq = fasta
    got = data.fasta_sequence(path, data.Interval("chr1", 100, 130))
    assert got == seq[100:130].upper() and got.source == "FASTA mini.fa"


def test_local_fasta_is_checked_against_the_cache_manifest(fasta, monkeypatch, tmp_path):
    path, _seq = fasta
    interval = data.Interval("chr1", 100, 130)
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(_ucsc_mirror(tmp_path, interval, "A" * 30)))
    monkeypatch.setenv("A5KIT_MODE", "record")
    data.hg38_sequence(interval)  # the cache now says chr1:100-130 is 30 x A
    monkeypatch.setenv("A5KIT_MODE", "live")
    with pytest.raises(data.DataUnavailable, match="does not match"):
        data.fasta_sequence(path, interval)
    assert Cache().find("hg38_sequence", data._sequence_key(interval)[1]) is not None
