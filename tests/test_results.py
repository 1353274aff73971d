"""Gradescope results.json: the schema accepts what we emit and rejects what Gradescope would not."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from a5kit.checking.core import Result
from a5kit.grader.results import RESULTS_SCHEMA, VISIBILITIES, ResultsError, results_json, validate, write_results

RESULTS = [
    Result("q1a", "shapes", 2.0, 2.0, False, "passed"),
    Result("q1a", "values", 0.0, 3.0, False, "attention weights do not sum to 1"),
    Result("q2b", "held-out motif", 1.0, 1.0, True, "passed"),
    Result("q2b", "held-out sequence", 0.5, 2.0, True, "partly right"),
]


@pytest.fixture
def doc() -> dict:
    return results_json(RESULTS, "Graded 01_self_attention.ipynb", execution_time=12.5)


def test_schema_itself_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(RESULTS_SCHEMA)
    assert RESULTS_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_mixed_passed_failed_hidden_results_give_a_schema_valid_document(doc):
    validate(doc)
    jsonschema.validate(doc, RESULTS_SCHEMA, cls=jsonschema.Draft202012Validator)


def test_document_is_json_serialisable_round_trip(doc):
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_summary_test_is_first_visible_and_worth_zero_points(doc):
    first = doc["tests"][0]
    assert first["name"] == "Summary"
    assert first["visibility"] == "visible"
    assert first["score"] == 0 and first["max_score"] == 0
    assert first["output"] == "Graded 01_self_attention.ipynb"


def test_top_level_output_is_the_summary(doc):
    assert doc["output"] == "Graded 01_self_attention.ipynb"


def test_one_test_per_result_named_question_colon_case(doc):
    assert [t["name"] for t in doc["tests"][1:]] == [
        "q1a: shapes",
        "q1a: values",
        "q2b: held-out motif",
        "q2b: held-out sequence",
    ]


def test_hidden_marker_in_a_case_name_moves_to_visibility():
    doc = results_json([Result("q3a", "big input (hidden)", 1.0, 1.0, True, "passed")], "s", 1.0)
    assert doc["tests"][1]["name"] == "q3a: big input"
    assert doc["tests"][1]["visibility"] == "after_published"


def test_each_test_carries_score_max_score_and_output(doc):
    second = doc["tests"][2]
    assert (second["score"], second["max_score"], second["output"]) == (0.0, 3.0, "attention weights do not sum to 1")


def test_status_is_passed_only_for_full_marks(doc):
    assert [t["status"] for t in doc["tests"][1:]] == ["passed", "failed", "passed", "failed"]


def test_public_tests_are_visible_and_hidden_ones_after_published_by_default(doc):
    assert [t["visibility"] for t in doc["tests"][1:]] == ["visible", "visible", "after_published", "after_published"]


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_visibility_of_hidden_tests_is_configurable(visibility):
    doc = results_json(RESULTS, "s", 1.0, hidden_visibility=visibility)
    validate(doc)
    assert [t["visibility"] for t in doc["tests"] if t["name"].startswith("q2b")] == [visibility, visibility]
    assert all(t["visibility"] == "visible" for t in doc["tests"] if t["name"].startswith("q1a"))


def test_unknown_hidden_visibility_is_refused():
    with pytest.raises(ValueError, match="hidden_visibility"):
        results_json(RESULTS, "s", 1.0, hidden_visibility="later")


def test_top_level_score_is_the_sum_rounded_to_four_decimals():
    results = [Result("q1a", f"c{i}", 1 / 3, 1.0, False, "partly right") for i in range(3)]
    assert results_json(results, "s", 1.0)["score"] == round(3 * (1 / 3), 4)
    assert results_json(RESULTS, "s", 1.0)["score"] == 3.5


def test_execution_time_is_a_number_even_from_an_int():
    doc = results_json(RESULTS, "s", 7)
    assert isinstance(doc["execution_time"], float) and doc["execution_time"] == 7.0


def test_no_results_still_gives_a_valid_document_with_the_summary():
    doc = results_json([], "the submission is empty: no files were uploaded", 0.1)
    validate(doc)
    assert doc["score"] == 0 and [t["name"] for t in doc["tests"]] == ["Summary"]


def test_spec_example_shape_is_accepted():
    validate(
        {
            "score": 44.0,
            "execution_time": 136,
            "output": "Text",
            "output_format": "simple_format",
            "test_output_format": "text",
            "test_name_format": "text",
            "visibility": "after_due_date",
            "stdout_visibility": "visible",
            "extra_data": {},
            "tests": [
                {
                    "score": 2.0,
                    "max_score": 2.0,
                    "status": "passed",
                    "name": "Your name here",
                    "name_format": "text",
                    "number": "1.1",
                    "output": "Giant string",
                    "output_format": "text",
                    "tags": ["t1", "t2"],
                    "visibility": "visible",
                    "extra_data": {},
                }
            ],
            "leaderboard": [
                {"name": "Accuracy", "value": 0.926},
                {"name": "Time", "value": 15.1, "order": "asc"},
                {"name": "Stars", "value": "*****"},
            ],
        }
    )


# --- the schema can fail -------------------------------------------------------------------


def broken(doc: dict, change) -> dict:
    bad = copy.deepcopy(doc)
    change(bad)
    return bad


def test_test_without_max_score_is_rejected(doc):
    bad = broken(doc, lambda d: d["tests"][1].pop("max_score"))
    with pytest.raises(ResultsError, match=r"tests\[1\]: 'max_score' is a required property"):
        validate(bad)


def test_test_without_name_is_rejected(doc):
    with pytest.raises(ResultsError, match="'name' is a required property"):
        validate(broken(doc, lambda d: d["tests"][2].pop("name")))


@pytest.mark.parametrize("field, value", [("status", "ok"), ("visibility", "never"), ("output_format", "rtf")])
def test_test_field_outside_its_enum_is_rejected(doc, field, value):
    def change(d):
        d["tests"][1][field] = value

    with pytest.raises(ResultsError, match=rf"tests\[1\]\.{field}"):
        validate(broken(doc, change))


def test_string_execution_time_is_rejected(doc):
    with pytest.raises(ResultsError, match="execution_time"):
        validate(broken(doc, lambda d: d.update(execution_time="12s")))


def test_string_score_is_rejected(doc):
    with pytest.raises(ResultsError, match=r"tests\[1\]\.score"):
        validate(broken(doc, lambda d: d["tests"][1].update(score="2")))


def test_boolean_score_is_rejected(doc):
    with pytest.raises(ResultsError, match="score"):
        validate(broken(doc, lambda d: d.update(score=True)))


def test_misspelt_key_is_rejected(doc):
    with pytest.raises(ResultsError, match="max_scor"):
        validate(broken(doc, lambda d: d["tests"][1].update(max_scor=1)))


def test_no_top_level_score_and_a_test_without_score_is_rejected(doc):
    def change(d):
        d.pop("score")
        d["tests"][1].pop("score")

    with pytest.raises(ResultsError, match="needs a top-level 'score'"):
        validate(broken(doc, change))


def test_no_top_level_score_is_fine_when_every_test_has_one(doc):
    validate(broken(doc, lambda d: d.pop("score")))


def test_nan_score_is_rejected(doc):
    with pytest.raises(ResultsError, match="NaN"):
        validate(broken(doc, lambda d: d["tests"][1].update(score=float("nan"))))


def test_error_message_lists_every_problem(doc):
    def change(d):
        d["tests"][1].pop("max_score")
        d["tests"][2]["status"] = "maybe"

    with pytest.raises(ResultsError) as info:
        validate(broken(doc, change))
    assert "tests[1]" in str(info.value) and "tests[2].status" in str(info.value)


# --- writing -------------------------------------------------------------------------------


def test_write_results_writes_the_document_as_json(doc, tmp_path):
    path = tmp_path / "results" / "results.json"
    write_results(doc, path)
    assert json.loads(path.read_text(encoding="utf-8")) == doc


def test_write_results_leaves_no_temporary_file(doc, tmp_path):
    write_results(doc, tmp_path / "results.json")
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_write_results_refuses_an_invalid_document_and_keeps_the_old_file(doc, tmp_path):
    path = tmp_path / "results.json"
    write_results(doc, path)
    before = path.read_bytes()
    with pytest.raises(ResultsError):
        write_results(broken(doc, lambda d: d["tests"][1].pop("max_score")), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_texts_from_the_student_are_cut_and_made_writable(tmp_path):
    """An undecodable file name (a lone surrogate) and a 5 MB error message still give a small, valid file."""
    huge = Result("q2a", "returns float32", 0.0, 1.0, False, "ValueError: " + "x" * 5_000_000)
    doc = results_json([huge], "ignored: bad\udcff name.ipynb; " + "y" * 100_000, 1.0)
    write_results(doc, tmp_path / "results.json")
    written = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert len(written) < 20_000 and "more characters cut" in written
    assert "bad\ufffd name.ipynb" in json.loads(written)["output"]
