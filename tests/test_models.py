import subprocess
import sys

import numpy as np
import pytest

from a5kit import data, models
from a5kit.cache import Cache, CacheMiss
from a5kit.inputs import ACTIVE_SENTENCE

FOX_IDS = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13]


def test_tiny_gpt2_uses_the_real_bpe_vocabulary(tiny):
    _, tokenizer = models.load_gpt2()
    assert tokenizer(ACTIVE_SENTENCE)["input_ids"] == FOX_IDS


def test_tiny_gpt2_attentions_have_shape_layers_heads_n_n(tiny):
    tokens, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    assert tokens[:3] == ["The", "Ġquick", "Ġbrown"] and len(tokens) == 10
    assert att.shape == (12, 12, 10, 10) and att.dtype == np.float32


def test_gpt2_attentions_are_causal_and_rows_sum_to_one(tiny):
    _, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    np.testing.assert_allclose(att.sum(-1), 1, atol=1e-5)
    assert np.all(np.triu(att, k=1) == 0)


def test_tiny_gpt2_attention_is_not_uniform(tiny):
    # so a from-scratch attention that forgets the 1/sqrt(d) scale cannot pass by accident
    _, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    assert np.abs(att[0, 0, -1] - 1 / 10).max() > 0.05


def test_softmax_of_scaled_qk_reproduces_the_models_attention(tiny):
    _, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    q, k = models.gpt2_qk(ACTIVE_SENTENCE, layer=0)
    assert q.shape == k.shape == (12, 10, 4)
    scores = q.astype(np.float64) @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    scores = np.where(np.triu(np.ones((10, 10), bool), k=1), -np.inf, scores)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(weights, att[0], atol=1e-5)


def test_gpt2_qk_rejects_a_layer_out_of_range(tiny):
    with pytest.raises(IndexError, match=r"0\.\.11"):
        models.gpt2_qk(ACTIVE_SENTENCE, layer=12)


def test_tiny_enformer_predicts_200_bins_by_5313_tracks_for_the_chr11_window(tiny):
    pred = models.enformer_predict(data.hg38_sequence(data.CHR11_WINDOW))
    assert pred.shape == (200, 5313) and pred.dtype == np.float32
    assert np.all(pred >= 0)  # softplus output


def test_enformer_rejects_a_length_that_is_not_whole_bins(tiny):
    with pytest.raises(ValueError, match="multiple of 128"):
        models.enformer_predict("ACGT" * 33)


def test_enformer_target_length_is_capped_at_896_bins():
    assert models.default_target_length(25_600) == 200
    assert models.default_target_length(196_608) == 896


def test_tiny_enformer_filters_are_filters_by_4_by_15(tiny):
    weights = models.enformer_first_layer_filters()
    assert weights.ndim == 3 and weights.shape[1:] == (4, 15)


def test_tiny_models_are_deterministic(tiny):
    first = models.gpt2_attentions(ACTIVE_SENTENCE)[1]
    models._gpt2.cache_clear()
    np.testing.assert_array_equal(models.gpt2_attentions(ACTIVE_SENTENCE)[1], first)


def test_the_model_input_orders_columns_acgt_and_zeroes_n():
    """Enformer's input comes from enformer-pytorch's own encoder (the kit ships none: Q2a): A, C, G, T; N all zeros."""
    from enformer_pytorch.data import str_to_one_hot

    np.testing.assert_array_equal(
        str_to_one_hot(["ACGTN"])[0].numpy(), np.vstack([np.eye(4), np.zeros(4)]).astype(np.float32)
    )


def test_replay_of_a_recorded_tiny_cache_is_identical_and_a_changed_input_misses(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setenv("A5KIT_TINY", "1")
    window = data.hg38_sequence(data.CHR11_WINDOW)
    recorded = models.enformer_predict(window)
    tokens, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    monkeypatch.setenv("A5KIT_MODE", "replay")
    np.testing.assert_array_equal(models.enformer_predict(data.hg38_sequence(data.CHR11_WINDOW)), recorded)
    replayed_tokens, replayed_att = models.gpt2_attentions(ACTIVE_SENTENCE)
    assert replayed_tokens == tokens
    np.testing.assert_array_equal(replayed_att, att)
    changed = "T" + window[1:]
    with pytest.raises(CacheMiss, match="sequence of 25600 bp"):
        models.enformer_predict(changed)
    assert Cache().is_tiny


def test_replay_refuses_to_load_weights(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(RuntimeError, match="replay mode"):
        models.load_enformer()


def test_replay_never_imports_torch_or_transformers(monkeypatch, tmp_path):
    monkeypatch.setenv("A5KIT_MODE", "record")
    monkeypatch.setenv("A5KIT_TINY", "1")
    models.gpt2_attentions(ACTIVE_SENTENCE)
    code = (
        "import sys, a5kit.models as m, a5kit.data as d;"
        f"m.gpt2_attentions({ACTIVE_SENTENCE!r});"
        "bad = [x for x in ('torch', 'transformers', 'enformer_pytorch') if x in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    env = {"A5KIT_MODE": "replay", "A5KIT_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gpt2_loads_from_a_local_save_pretrained_folder(tiny, monkeypatch, tmp_path):
    model, tokenizer = models.load_gpt2()
    model.save_pretrained(tmp_path / "gpt2")
    tokenizer.save_pretrained(tmp_path / "gpt2")
    expected = models.gpt2_attentions(ACTIVE_SENTENCE)
    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("A5KIT_GPT2_SOURCE", str(tmp_path / "gpt2"))
    tokens, att = models.gpt2_attentions(ACTIVE_SENTENCE)
    assert tokens == expected[0]
    np.testing.assert_allclose(att, expected[1], atol=1e-6)


def _save_like_the_hub(model, folder) -> None:
    """config.json + pytorch_model.bin, the layout of EleutherAI/enformer-official-rough.

    Not ``save_pretrained``: the trunk shares its modules with stem/conv_tower/..., which
    safetensors refuses and transformers 5 saves only as safetensors.
    """
    import torch

    folder.mkdir(parents=True)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")


def test_enformer_loads_from_a_local_save_pretrained_folder(tiny, monkeypatch, tmp_path):
    _save_like_the_hub(models.load_enformer(), tmp_path / "enformer")
    seq = data.synthetic_sequence(data.Interval("chr1", 0, 128 * 16))
    expected = models.enformer_predict(seq)
    expected_filters = models.enformer_first_layer_filters()
    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("A5KIT_ENFORMER_SOURCE", str(tmp_path / "enformer"))
    np.testing.assert_allclose(models.enformer_predict(seq), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(models.enformer_first_layer_filters(), expected_filters)
