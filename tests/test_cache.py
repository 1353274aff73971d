import json

import numpy as np
import pytest

from a5kit.cache import Cache, CacheCorrupt, CacheMiss, ModelInfo, array_sha256, cached_call, sha256_bytes

MODEL = ModelInfo("toy-model", "v1", tiny=False)
TINY = ModelInfo("tiny-toy", "seed 0", tiny=True)


def _call(x: str, model: ModelInfo = MODEL, calls: list | None = None):
    def compute():
        if calls is not None:
            calls.append(x)
        return {"y": np.arange(len(x), dtype=np.float32) * 2, "tokens": np.array(list(x))}, model

    return cached_call("toy", f"toy input {x!r}", sha256_bytes(x), {"k": 3}, compute)


def test_record_then_replay_returns_identical_arrays(monkeypatch, cache_dir):
    monkeypatch.setenv("A5KIT_MODE", "record")
    recorded = _call("abc")
    monkeypatch.setenv("A5KIT_MODE", "replay")
    calls: list = []
    replayed = _call("abc", calls=calls)
    assert calls == [], "replay must not compute"
    for name in recorded:
        np.testing.assert_array_equal(replayed[name], recorded[name])
        assert replayed[name].dtype == recorded[name].dtype


def test_replay_miss_names_the_input_and_lists_the_cache(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "record")
    _call("abc")
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(CacheMiss) as err:
        _call("abd")
    message = str(err.value)
    assert "toy input 'abd'" in message
    assert "toy input 'abc'" in message  # what the cache holds


def test_a_replay_miss_is_one_short_line_however_large_the_cache(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "record")
    for i in range(40):
        _call(f"in{i:02d}")
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(CacheMiss) as err:
        _call("other")
    message = str(err.value)
    assert "\n" not in message and len(message) < 600 and "and 37 more" in message


def test_manifest_records_model_input_and_array_hashes(monkeypatch, cache_dir):
    monkeypatch.setenv("A5KIT_MODE", "record")
    arrays = _call("abc")
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    (entry,) = manifest["entries"].values()
    assert entry["model_id"] == "toy-model" and entry["model_version"] == "v1"
    assert entry["input"] == "toy input 'abc'"
    assert entry["input_sha256"] == sha256_bytes("abc")
    assert entry["arrays"]["y"] == {"sha256": array_sha256(arrays["y"]), "dtype": "<f4", "shape": [3]}
    assert manifest["tiny"] is False


def test_tiny_cache_says_so_in_manifest_and_description(monkeypatch, cache_dir):
    monkeypatch.setenv("A5KIT_MODE", "record")
    _call("abc", model=TINY)
    manifest = json.loads((cache_dir / "manifest.json").read_text())
    assert manifest["tiny"] is True and "TINY" in manifest["note"]
    assert "TINY DEMO CACHE" in Cache(cache_dir).describe()


def test_live_mode_computes_without_writing(monkeypatch, cache_dir):
    calls: list = []
    _call("abc", calls=calls)
    assert calls == ["abc"]
    assert not cache_dir.exists()


def test_parameters_are_part_of_the_key(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "record")
    cached_call("toy", "x", sha256_bytes("x"), {"bins": 200}, lambda: ({"a": np.zeros(1)}, MODEL))
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(CacheMiss, match="bins=896"):
        cached_call("toy", "x", sha256_bytes("x"), {"bins": 896}, lambda: ({"a": np.zeros(1)}, MODEL))


def test_damaged_array_file_is_detected(monkeypatch, cache_dir):
    monkeypatch.setenv("A5KIT_MODE", "record")
    _call("abc")
    (entry,) = Cache(cache_dir).entries.values()
    np.savez_compressed(cache_dir / entry["file"], y=np.zeros(3, np.float32), tokens=np.array(list("abc")))
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(CacheCorrupt, match="'y'"):
        _call("abc")


def test_replay_of_an_empty_cache_says_it_holds_nothing(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "replay")
    with pytest.raises(CacheMiss, match="holds: nothing for"):
        _call("abc")
