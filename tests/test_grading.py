"""The grading format: plain data across the boundary, one failing case costs only itself."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from a5kit import checking
from a5kit.checking import Failure, LocalSubmission, case, core, expect
from a5kit.checking.plain import Handle, to_plain


def test_arrays_numbers_and_containers_stay_plain():
    value = to_plain({"a": np.float32(1.5), "b": (1, [np.arange(3)]), "c": None}, {})
    assert value["a"] == 1.5 and isinstance(value["a"], float)
    assert value["b"][0] == 1 and np.array_equal(value["b"][1][0], np.arange(3))
    assert value["c"] is None


def test_an_unknown_object_becomes_a_handle_that_can_be_passed_back():
    class Model:
        def predict(self, x):
            return x * 2

    sub = LocalSubmission({"train": lambda: Model(), "use": lambda m, x: m.predict(x)})
    handle = sub.call("train")
    assert isinstance(handle, Handle) and handle.type.endswith("Model")
    assert sub.call("use", handle, 21) == 42


def test_torch_tensors_arrive_as_numpy_arrays():
    torch = pytest.importorskip("torch")
    assert np.array_equal(to_plain(torch.arange(4), {}), np.arange(4))


def test_an_imshow_axes_arrives_as_its_labels_and_image():
    fig, ax = plt.subplots()
    ax.imshow(np.arange(6).reshape(2, 3))
    ax.set_xticks(range(3), ["a", "b", "c"])
    ax.set_title("T")
    summary = expect.axes(to_plain(ax, {}), "plot")
    plt.close(fig)
    assert summary["title"] == "T" and summary["xticklabels"] == ["a", "b", "c"]
    assert np.array_equal(summary["images"][0], np.arange(6).reshape(2, 3))


def test_a_seaborn_heatmap_arrives_as_its_matrix():
    sns = pytest.importorskip("seaborn")
    fig, ax = plt.subplots()
    data = np.random.default_rng(0).random((4, 5))
    sns.heatmap(data, ax=ax, xticklabels=list("vwxyz"), yticklabels=list("ACGT"))
    summary = to_plain(ax, {})
    plt.close(fig)
    np.testing.assert_allclose(summary["images"][0], data)
    assert summary["yticklabels"] == list("ACGT")


def test_the_students_inputs_are_copies():
    def mutate(x):
        x[:] = 0
        return x.sum()

    original = np.ones(3)
    LocalSubmission({"mutate": mutate}).call("mutate", original)
    assert original.sum() == 3


def test_a_missing_function_is_named_in_the_message():
    with pytest.raises(checking.MissingFunction, match="no function named one_hot"):
        LocalSubmission({}).call("one_hot")


def test_a_stub_is_reported_as_not_implemented():
    def stub():
        raise NotImplementedError()

    with pytest.raises(checking.StudentError, match="not implemented yet"):
        LocalSubmission({"stub": stub}).call("stub")


def _cases():
    @case(points=2)
    def good(sub):
        assert sub.call("f") == 1

    @case(points=1)
    def wrong(sub):
        raise Failure("expected shape (3, 4), got (4, 3): transposed?")

    @case(points=1)
    def student_crash(sub):
        sub.call("boom")

    @case(points=2)
    def half(sub):
        return 0.5

    def boom():
        raise ZeroDivisionError("division by zero")

    cases = [core.Case("qx", f.__name__, f._a5kit_case["points"], False, f) for f in (good, wrong, student_crash, half)]
    return cases, LocalSubmission({"f": lambda: 1, "boom": boom})


def test_each_case_scores_on_its_own():
    cases, sub = _cases()
    results = {r.name: r for r in core.run_cases(cases, sub)}
    assert results["good"].score == 2
    assert results["wrong"].score == 0 and "transposed?" in results["wrong"].output
    assert results["student_crash"].score == 0 and "boom() raised ZeroDivisionError" in results["student_crash"].output
    assert results["half"].score == 1


def test_report_lists_failures_with_their_reasons():
    cases, sub = _cases()
    text = core.report(core.run_cases(cases, sub), "qx", show_hidden=False)
    assert text.splitlines()[0] == "qx: public checks 3/6"
    assert "[FAIL] wrong (0/1): expected shape (3, 4)" in text


def test_check_runs_the_public_q2a_cases_and_prints_them(capsys):
    ns = {"one_hot_encode_dna": lambda s: np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in s]]}
    assert checking.check("q2a", ns) is None  # nothing for Jupyter to echo under the report
    out = capsys.readouterr().out
    results = checking.public_results("q2a", ns)
    assert all(not r.hidden for r in results)
    # an upper-case-only encoder: the public cases of lowercase, N and another letter tell it what the task asks
    assert {r.name for r in results if not r.passed} == {
        "lowercase letters mean the same bases",
        "n becomes a row of zeros",
        "another letter raises value error naming it and its position",
    }
    assert out.startswith("q2a: public checks 1.5/2.25 — 1.75 more points come from hidden tests after you submit")


def test_grade_adds_hidden_cases_once_they_are_loaded(monkeypatch, tmp_path):
    from conftest import ROOT

    monkeypatch.setattr(core, "_hidden_dir", None)
    ns = {"one_hot_encode_dna": lambda s: np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in s]]}
    assert checking.grade("q2a", ns) == 1.5
    checking.use_hidden_tests(ROOT / "autograder" / "tests")
    lenient = {
        "one_hot_encode_dna": lambda s: np.array([[c == b for b in "ACGT"] for c in s.upper()], dtype=np.float32)
    }
    assert checking.grade("q2a", lenient) == 3.5  # all but the ValueError for a bad letter


def test_use_hidden_tests_says_where_to_point_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("A5KIT_HIDDEN_TESTS", raising=False)
    with pytest.raises(FileNotFoundError, match="A5KIT_HIDDEN_TESTS"):
        checking.use_hidden_tests()


def test_shape_failure_suggests_a_transpose():
    with pytest.raises(Failure, match=r"expected shape \(18, 4\), got \(4, 18\): transposed\?"):
        expect.array(np.zeros((4, 18)), "one-hot", (18, 4))


def test_closeness_failure_names_the_worst_position():
    with pytest.raises(Failure, match=r"largest at \(1,\): got 5, expected 2"):
        expect.close(np.array([1.0, 5.0]), np.array([1.0, 2.0]), "x")


def test_nan_is_reported_as_overflow():
    with pytest.raises(Failure, match="NaN or inf"):
        expect.close(np.array([np.nan]), np.array([1.0]), "weights")


def test_grade_keeps_stderr_out_of_the_grade_cell(capsys):
    import sys
    import warnings

    def noisy(s):
        print("progress 100%", file=sys.stderr)
        warnings.warn("deprecated thing", stacklevel=2)
        return np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in s]]

    assert checking.grade("q2a", {"one_hot_encode_dna": noisy}) == 1.5
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "progress 100%" in captured.out and "UserWarning: deprecated thing" in captured.out


def _upper_case_one_hot(sequence):
    return np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in sequence]]


def test_check_warns_when_a5kit_is_not_the_release_the_notebook_asked_for(capsys, monkeypatch):
    monkeypatch.setenv("A5KIT_EXPECTED_VERSION", "0.0.1")  # what a setup cell of another release records
    checking.check("q2a", {"one_hot_encode_dna": _upper_case_one_hot})
    assert "WARNING: this notebook was released for a5kit 0.0.1" in capsys.readouterr().out


def test_check_says_nothing_about_versions_when_they_agree(capsys, monkeypatch):
    from a5kit import __version__

    monkeypatch.setenv("A5KIT_EXPECTED_VERSION", __version__)
    checking.check("q2a", {"one_hot_encode_dna": _upper_case_one_hot})
    assert "WARNING" not in capsys.readouterr().out
