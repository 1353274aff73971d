"""Live mode without the hub: small models saved with save_pretrained and loaded back through
from_pretrained (A5KIT_*_SOURCE), CUDA placement (faked), batched Enformer calls and the on-disk
memo that serves a re-run cell."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from a5kit import cache as cache_mod
from a5kit import config, inputs, models, nbmeta, rehearse

SMALL_GPT2 = dict(models.TINY_GPT2_CONFIG)
SMALL_ENFORMER = dict(models.TINY_ENFORMER_HPARAMS)


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> tuple[Path, Path]:
    """A small GPT-2 and Enformer written by save_pretrained (what `make rehearse` does at full size)."""
    folder = tmp_path_factory.mktemp("models")
    gpt2, enformer = folder / "gpt2", folder / "enformer"
    rehearse.build_models(gpt2, enformer, gpt2_config=SMALL_GPT2, enformer_hparams=SMALL_ENFORMER, log=lambda _m: None)
    return gpt2, enformer


@pytest.fixture
def live(saved_models, tmp_path, monkeypatch):
    """Live mode on the saved models, with a synthetic-sequence download mirror (no hub, no UCSC)."""
    gpt2, enformer = saved_models
    mirror = tmp_path / "mirror"
    rehearse.build_mirror(mirror, ROOT, log=lambda _m: None) if (
        ROOT.parent / "shared" / "data" / "targets_human.txt"
    ).exists() else _mirror_without_tracks(mirror)
    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("A5KIT_GPT2_SOURCE", str(gpt2))
    monkeypatch.setenv("A5KIT_ENFORMER_SOURCE", str(enformer))
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(mirror))
    monkeypatch.setenv("A5KIT_DEVICE", "cpu")
    models._gpt2.cache_clear()
    models._enformer.cache_clear()
    yield tmp_path
    models._gpt2.cache_clear()
    models._enformer.cache_clear()


def _mirror_without_tracks(mirror: Path) -> None:
    from a5kit import data, finetune_data

    mirror.mkdir(parents=True)
    for interval in set(data.NOTEBOOK_WINDOWS) | set(finetune_data.WINDOWS):
        (mirror / f"hg38_{interval.chrom}_{interval.start}_{interval.end}.json").write_text(
            json.dumps({"dna": str(data.synthetic_sequence(interval))})
        )


def test_save_from_pretrained_predict(live, capsys):
    tokens, attentions = models.gpt2_attentions(inputs.ACTIVE_SENTENCE)
    assert attentions.shape == (12, 12, len(tokens), len(tokens))
    np.testing.assert_allclose(attentions.sum(-1), 1.0, atol=1e-5)
    from a5kit import data

    seq = data.hg38_sequence(data.CHR11_WINDOW)
    pred = models.enformer_predict(seq, target_length=inputs.CHR11_TARGET_LENGTH)
    assert pred.shape == (inputs.CHR11_TARGET_LENGTH, models.HUMAN_TRACKS)
    assert models.enformer_first_layer_filters().shape == (SMALL_ENFORMER["dim"] // 2, 4, 15)
    said = capsys.readouterr().out
    assert "GPT-2" in said and "Enformer" in said and "runs on cpu" in said
    # named once: a second call says nothing more
    models.enformer_predict(seq[:1280])
    assert "runs on" not in capsys.readouterr().out


def test_cuda_when_available_moves_model_and_inputs(live, monkeypatch):
    """A fake CUDA: torch.cuda.is_available() is True and every .to() is recorded (and kept on the CPU)."""
    import torch

    monkeypatch.delenv("A5KIT_DEVICE")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    moved: list[tuple[str, str]] = []
    module_to, tensor_to = torch.nn.Module.to, torch.Tensor.to

    def fake_module_to(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("device")
        moved.append(("module", str(target)))
        return module_to(self, "cpu") if str(target).startswith("cuda") else module_to(self, *args, **kwargs)

    def fake_tensor_to(self, *args, **kwargs):
        target = args[0] if args else kwargs.get("device")
        moved.append(("tensor", str(target)))
        return tensor_to(self, "cpu") if str(target).startswith("cuda") else tensor_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", fake_module_to)
    monkeypatch.setattr(torch.Tensor, "to", fake_tensor_to)
    assert models.device() == "cuda"
    models.enformer_predict("ACGT" * 320)
    models.gpt2_attentions("A fox.")
    assert ("module", "cuda") in moved and ("tensor", "cuda") in moved
    assert moved.count(("tensor", "cuda")) >= 2  # Enformer's one-hot batch and GPT-2's token ids
    fresh = models.load_enformer()  # the fine-tuning copy goes to the GPU too
    assert fresh is not None and moved.count(("module", "cuda")) >= 3


def test_tiny_models_stay_on_cpu_without_override(tiny, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert models.device() == "cpu"
    monkeypatch.setenv("A5KIT_DEVICE", "cpu")
    monkeypatch.setenv("A5KIT_MODE", "live")
    assert models.device() == "cpu"
    monkeypatch.setenv("A5KIT_DEVICE", "bogus")
    with pytest.raises(config.ConfigError):
        models.device()


def test_predict_many_batches_and_agrees(live, monkeypatch):
    seqs = [models_seq(i) for i in range(5)]
    calls: list[int] = []
    run = models._enformer_run

    def counting(sequences, bins, columns):
        calls.append(len(sequences))
        return run(sequences, bins, columns)

    monkeypatch.setattr(models, "_enformer_run", counting)
    many = models.enformer_predict_many(seqs, tracks=[0, 5], batch_size=2)
    assert calls == [2, 2, 1]
    monkeypatch.setenv("A5KIT_LIVE_MEMO", "0")  # no memo: enformer_predict recomputes, one at a time
    for seq, pred in zip(seqs, many):
        np.testing.assert_allclose(models.enformer_predict(seq, tracks=[0, 5]), pred, rtol=1e-4, atol=1e-5)
    assert calls == [2, 2, 1, 1, 1, 1, 1, 1]


def models_seq(i: int) -> str:
    rng = np.random.default_rng(i)
    return "".join(rng.choice(list("ACGT"), 1280))


def _q6_cells() -> str:
    import nbformat

    nb = nbformat.read(ROOT / "solutions" / "03_enformer.ipynb", as_version=4)
    wanted = [c.source for c in nb.cells if nbmeta.grade_id(c) in ("q6-solution", "q6-effects")]
    assert len(wanted) == 2
    return "\n\n".join(wanted)


def _run_q6() -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    import a5kit.data
    import a5kit.inputs
    import a5kit.models  # noqa: F401  (the exec namespace reaches it as a5kit.models)

    namespace = {"np": np, "pd": pd, "plt": plt, "a5kit": __import__("a5kit"), "display": lambda *a, **k: None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(_q6_cells(), "03_enformer.ipynb:q6", "exec"), namespace)
    plt.close("all")
    return namespace


def test_rerun_of_q6_is_served_from_the_memo(live, monkeypatch):
    """Notebook 3's Q6 cell in live mode: the second run computes nothing and gives the same table."""
    first = _run_q6()
    memo = cache_mod.live_memo()
    assert memo is not None and len(memo.entries_for("enformer_predict")) == 10

    def no_model(*_a, **_k):
        raise AssertionError("a re-run cell recomputed a prediction instead of using the memo")

    monkeypatch.setattr(models, "_enformer_run", no_model)
    second = _run_q6()
    np.testing.assert_array_equal(second["effects"].to_numpy(), first["effects"].to_numpy())
    assert second["ref_seq"].source == first["ref_seq"].source  # labels survive the memo as plain strings

    assert cache_mod.clear_live_memo() >= 10
    with pytest.raises(AssertionError, match="recomputed"):
        _run_q6()


def test_memo_is_per_model_source(live, saved_models, tmp_path, monkeypatch):
    seq = models_seq(7)
    models.enformer_predict(seq, tracks=[1])
    before = cache_mod.memo_namespace()
    other = tmp_path / "other-enformer"
    rehearse.build_models(saved_models[0], other, enformer_hparams={**SMALL_ENFORMER}, seed=1, log=lambda _m: None)
    monkeypatch.setenv("A5KIT_ENFORMER_SOURCE", str(other))
    assert cache_mod.memo_namespace() != before
    assert (
        cache_mod.live_memo().find(
            "enformer_predict", cache_mod.sha256_bytes(seq), {"target_length": 10, "tracks": [1]}
        )
        is None
    )


def test_record_takes_memoised_results(live, tmp_path, monkeypatch):
    seq = models_seq(3)
    live_pred = models.enformer_predict(seq)
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setattr(models, "_enformer_run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    np.testing.assert_array_equal(models.enformer_predict(seq), live_pred)
    assert cache_mod.Cache().find("enformer_predict", cache_mod.sha256_bytes(seq), {"target_length": 10}) is not None


def test_tiny_and_replay_do_not_memoise(tiny, tmp_path):
    models.enformer_predict("ACGT" * 32)
    assert cache_mod.live_memo() is None
    assert not (tmp_path / "live-memo").exists()


def test_memo_cli(live, capsys):
    from a5kit.__main__ import main

    models.enformer_predict(models_seq(1))
    assert main(["memo"]) == 0
    assert "1 results" in capsys.readouterr().out
    assert main(["memo", "--clear"]) == 0
    assert "cleared 1" in capsys.readouterr().out


def test_cache_from_memo(live, tmp_path):
    seq = models_seq(2)
    pred = models.enformer_predict(seq, tracks=[3])
    out = tmp_path / "from-memo"
    assert rehearse.cache_from_memo(tmp_path / "live-memo", out) >= 1
    entry = cache_mod.Cache(out).find(
        "enformer_predict", cache_mod.sha256_bytes(seq), {"target_length": 10, "tracks": [3]}
    )
    np.testing.assert_array_equal(cache_mod.Cache(out).load(entry)["predictions"], pred)


def test_rehearsal_resumes_and_logs(tmp_path, monkeypatch):
    r = rehearse.Rehearsal(ROOT, tmp_path / "r")
    ran: list[str] = []
    monkeypatch.setattr(r, "step_models", lambda: ran.append("models") or {"x": 1})
    monkeypatch.setattr(r, "step_mirror", lambda: ran.append("mirror") or {})
    assert r.run(["models"]) == 0
    assert r.run(["models", "mirror"]) == 0
    assert ran == ["models", "mirror"]  # models was not run twice
    log = (tmp_path / "r" / "progress.log").read_text()
    assert "models: already done" in log and "mirror: finished" in log
    assert json.loads((tmp_path / "r" / "results.json").read_text())["models"] == {"x": 1}

    def broken():
        raise RuntimeError("no disk")

    monkeypatch.setattr(r, "step_answers", broken)
    monkeypatch.setattr(r, "step_cache", lambda: ran.append("cache") or {})
    assert r.run(["answers", "cache"]) == 1  # answers is optional: logged, the later step still runs
    assert ran[-1] == "cache" and "answers: FAILED" in (tmp_path / "r" / "progress.log").read_text()


def test_predict_many_records_and_replays(monkeypatch, tmp_path):
    """record (tiny) stores each window of a batch as enformer_predict would; replay serves them, and a miss names the input."""
    from a5kit.cache import CacheMiss

    seqs = [models_seq(10), models_seq(11), models_seq(12)[:640]]  # two lengths: two batches
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setenv("A5KIT_TINY", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recorded = models.enformer_predict_many(seqs, tracks=[2], batch_size=4)
        monkeypatch.setenv("A5KIT_MODE", "replay")
        assert [p.shape for p in recorded] == [(10, 1), (10, 1), (5, 1)]
        for seq, pred in zip(seqs, recorded):
            np.testing.assert_array_equal(models.enformer_predict(seq, tracks=[2]), pred)
        replayed = models.enformer_predict_many(seqs, tracks=[2])
        with pytest.raises(CacheMiss, match="not in cache"):
            models.enformer_predict_many([models_seq(13)], tracks=[2])
    for a, b in zip(replayed, recorded):
        np.testing.assert_array_equal(a, b)
