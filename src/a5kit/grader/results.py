"""Gradescope's results.json: its schema, how grading results become one, and writing it safely.

The schema follows Gradescope's autograder specification ("Output format", "Test case status",
"Controlling Test Case Visibility", "Output String Formatting"): every field it lists, with its type
and allowed values, and no others (a misspelt key is an error, not a silently ignored field). It is
stricter in one place, on purpose: every test must have a ``name`` and a ``max_score``, so no
test appears unnamed or without its points on a student's page. Gradescope shows nothing if the
file is malformed, so :func:`write_results` refuses to write a document the schema rejects.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from typing import Any

import jsonschema

from a5kit._files import write_text_atomic
from a5kit.checking.core import Result

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
HIDDEN_VISIBILITY = "after_published"  # of hidden tests, unless grader.json says otherwise
VISIBILITY_NOTES = {
    "after_published": "hidden tests show after grades are published",
    "after_due_date": "hidden tests show after the due date",
    "hidden": "hidden tests are not shown",
    "visible": "all tests are shown",
}  # the summary's words for each
FORMATS = ("text", "simple_format", "html", "md", "ansi")
STATUSES = ("passed", "failed")
SUMMARY_NAME = "Summary"
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates cannot be written as UTF-8
MAX_SUMMARY_CHARS = 8000  # the Summary (and top-level output) is cut here: results.json stays small
MAX_TEST_OUTPUT_CHARS = 3000  # one test's output is cut here

_VISIBILITY = {"type": "string", "enum": list(VISIBILITIES)}
_FORMAT = {"type": "string", "enum": list(FORMATS)}
_EXTRA = {"type": "object"}

RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Gradescope autograder results.json",
    "type": "object",
    "properties": {
        "score": {"type": "number", "description": "total; overrides the sum of test scores"},
        "execution_time": {"type": "number", "minimum": 0, "description": "seconds"},
        "output": {"type": "string", "description": "text about the whole submission"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": _EXTRA,
        "tests": {"type": "array", "items": {"$ref": "#/$defs/test"}},
        "leaderboard": {"type": "array", "items": {"$ref": "#/$defs/leaderboard_entry"}},
    },
    "additionalProperties": False,
    # the spec: a top-level score is required unless every test carries its own
    "anyOf": [
        {"required": ["score"]},
        {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
    ],
    "$defs": {
        "test": {
            "type": "object",
            "properties": {
                "score": {"type": "number"},
                "max_score": {"type": "number", "minimum": 0},
                "status": {"type": "string", "enum": list(STATUSES)},
                "name": {"type": "string"},
                "name_format": _FORMAT,
                "number": {"type": ["string", "number"], "description": 'ordering label, e.g. "1.1"'},
                "output": {"type": "string"},
                "output_format": _FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": _VISIBILITY,
                "extra_data": _EXTRA,
            },
            "required": ["name", "max_score"],  # stricter than the spec (there optional): see the module docstring
            "additionalProperties": False,
        },
        "leaderboard_entry": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "value": {"type": ["number", "string"]},
                "order": {"type": "string", "enum": ["asc", "desc"]},
            },
            "required": ["name", "value"],
            "additionalProperties": False,
        },
    },
}


class ResultsError(ValueError):
    """A results.json document Gradescope would not accept; the message lists every problem."""


def _where(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "top level"


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, (*path, index))


def validate(doc: dict[str, Any]) -> None:
    """Raise :class:`ResultsError` naming each place ``doc`` breaks the results.json schema."""
    validator = jsonschema.Draft202012Validator(RESULTS_SCHEMA)
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        if error.validator == "anyOf" and not error.absolute_path:
            message = "needs a top-level 'score', or a 'score' on every test"
        else:
            message = error.message
        problems.append(f"{_where(error.absolute_path)}: {message}")
    problems += [f"{_where(p)}: NaN or infinity is not valid JSON" for p in _non_finite(doc)]
    if problems:
        raise ResultsError("results.json is not valid for Gradescope:\n" + "\n".join(f"  - {p}" for p in problems))


def _test_name(result: Result) -> str:
    name = result.name.strip()
    if name.lower().endswith("(hidden)"):  # hiddenness is the test's visibility, not part of its name
        name = name[: -len("(hidden)")].rstrip()
    return f"{result.question}: {name}"


def clean_text(text: str, limit: int) -> str:
    """``text`` safe to write and short: lone surrogates (undecodable file names) replaced, cut at ``limit`` characters."""
    text = str(text)
    if len(text) > limit:
        text = text[: limit - 40].rstrip() + f" … ({len(text) - limit + 40} more characters cut)"
    return _SURROGATE.sub("\ufffd", text)


def results_json(
    results: list[Result], summary: str, execution_time: float, hidden_visibility: str = HIDDEN_VISIBILITY
) -> dict[str, Any]:
    """The results.json document for ``results``: a visible 0-point Summary first, then one test per result.

    Every text is cut to a fixed length, so the file stays small whatever the student's code printed or raised.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    summary = clean_text(summary, MAX_SUMMARY_CHARS)
    tests: list[dict[str, Any]] = [
        {
            "name": SUMMARY_NAME,
            "score": 0.0,
            "max_score": 0.0,
            "status": "passed",
            "output": summary,
            "visibility": "visible",
        }
    ]
    for r in results:
        tests.append(
            {
                "name": clean_text(_test_name(r), 300),
                "score": float(r.score),
                "max_score": float(r.max_score),
                "status": "passed" if r.passed else "failed",
                "output": clean_text(r.output, MAX_TEST_OUTPUT_CHARS),
                "visibility": hidden_visibility if r.hidden else "visible",
            }
        )
    return {
        "score": round(sum(float(r.score) for r in results), 4),
        "execution_time": float(execution_time),
        "output": summary,
        "output_format": "text",  # the summary quotes uploaded file names: never render them as HTML
        "tests": tests,
    }


def write_results(doc: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Validate ``doc`` and write it to ``path`` atomically, so Gradescope never reads a partial file."""
    validate(doc)
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
