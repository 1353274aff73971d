"""Precomputed expected values: computed once at autograder build time, served without recomputing."""

from __future__ import annotations

import types

import numpy as np
import pytest

from a5kit.grader import precomputed


def _module(calls: list[int]) -> types.ModuleType:
    module = types.ModuleType("a5kit_hidden_q9z")

    def answer() -> dict[str, np.ndarray]:
        calls.append(1)
        return {"x": np.arange(3)}

    answer.__module__ = module.__name__
    module.answer = precomputed.precomputed(answer)
    return module


def test_without_a_store_the_value_is_computed(monkeypatch):
    monkeypatch.delenv("A5KIT_EXPECTED", raising=False)
    calls: list[int] = []
    assert _module(calls).answer()["x"].tolist() == [0, 1, 2] and calls == [1]


def test_precompute_writes_one_npz_per_value_named_by_question_and_function(tmp_path):
    written = precomputed.precompute_module(_module([]), tmp_path)
    assert [p.name for p in written] == ["q9z.answer.npz"]


def test_with_a_store_the_value_is_loaded_not_computed(tmp_path, monkeypatch):
    precomputed.precompute_module(_module([]), tmp_path)
    monkeypatch.setenv("A5KIT_EXPECTED", str(tmp_path))
    calls: list[int] = []
    assert _module(calls).answer()["x"].tolist() == [0, 1, 2] and calls == []


def test_a_store_missing_the_value_says_to_rebuild(tmp_path, monkeypatch):
    monkeypatch.setenv("A5KIT_EXPECTED", str(tmp_path))
    with pytest.raises(precomputed.ExpectedMissing, match="make autograder"):
        _module([]).answer()


def test_object_arrays_are_refused_because_they_would_need_pickle(tmp_path):
    module = types.ModuleType("a5kit_hidden_q9y")

    def bad() -> dict[str, np.ndarray]:
        return {"x": np.array([{}], dtype=object)}

    bad.__module__ = module.__name__
    module.bad = precomputed.precomputed(bad)
    with pytest.raises(TypeError, match="non-object"):
        precomputed.precompute_module(module, tmp_path)


def test_the_build_passes_its_parameters_explicitly_to_the_functions_that_name_them(tmp_path, monkeypatch):
    """Issue 24: the hidden seed reaches the hidden test as an argument, not through a process-global override."""
    import types

    import numpy as np

    from a5kit import config
    from a5kit.grader.precomputed import precompute_module, precomputed

    monkeypatch.delenv("A5KIT_HIDDEN_SEED", raising=False)
    module = types.ModuleType("a5kit_hidden_q9")

    def with_seed(hidden_seed: int | None = None):
        assert config.hidden_seed() is None  # nothing set globally
        return {"seed": np.array(hidden_seed)}

    def without():
        return {"x": np.zeros(2)}

    with_seed.__module__ = without.__module__ = "a5kit_hidden_q9"
    module.with_seed, module.without = precomputed(with_seed), precomputed(without)
    written = precompute_module(module, tmp_path, hidden_seed=2026)
    assert sorted(p.name for p in written) == ["q9.with_seed.npz", "q9.without.npz"]
    with np.load(tmp_path / "q9.with_seed.npz") as npz:
        assert int(npz["seed"]) == 2026
