"""`make answers` on the tiny cache fixture: the grader sheet is written, from the solutions' code in
replay mode, and says on every section that a tiny cache is not biology."""

from __future__ import annotations

import re
import shutil

import pytest
from conftest import ROOT

from a5kit import answers
from a5kit.cache import TINY_NOTE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sheet(tiny_cache, tmp_path_factory):
    cache = tmp_path_factory.mktemp("answers") / "cache"
    shutil.copytree(tiny_cache, cache)
    path = answers.write(cache)
    assert path == cache / "ANSWERS.md"
    return path.read_text()


def test_sheet_has_every_number_the_keys_need(sheet):
    for heading in ("Q1 (notebook 1)", "Q4a", "Q4b: filter 0", "Q4c", "Q4d", "Q6", "Q5 (notebook 4)"):
        assert f"## {heading}" in sheet
    assert re.search(r"consensus .*`[ACGTn]{15}`", sheet)
    assert re.search(r"Strongest filter \(largest sum \|w\|\): \*\*\d+\*\*", sheet)
    assert "E-value" in sheet and "all-zero filter" in sheet and "shuffled strongest filter" in sheet
    assert re.search(r"The notebook's null \(`tomtom_null`, from the cache\):\* best E of 100 shuffles", sheet)
    assert re.search(r"Closest filter to `GCGCAGCTGTCCTGA`: \*\*\d+\*\*, best on the \*\*[+-]\*\* strand", sheet)
    assert re.search(r"starts at offset \*\*-?\d+\*\*", sheet)
    for view in ("forward", "reverse complement", "shift +1 bp", "shift +2 bp", "shift +3 bp"):
        assert f"| {view} |" in sheet
    assert "highest mean" in sheet and "lowest mean" in sheet and "highest peak" in sheet
    assert "active fox→dog" in sheet
    assert "No live run given" in sheet


def test_tiny_sheet_says_not_biology_in_every_section(sheet):
    sections = sheet.split("\n## ")
    assert len(sections) >= 8
    for section in sections:
        assert TINY_NOTE in section, section[:80]


def test_consensus_and_alignment():
    import numpy as np

    def one_hot(seq):
        return np.array([[float(b == c) for c in "ACGT"] for b in seq], dtype=np.float32)

    matrix = one_hot("ACGTN") - 0.1
    assert answers.consensus(matrix) == "ACGTn"
    weights = np.zeros((2, 4, 6))
    weights[1] = one_hot("CAGCTG").T  # the E-box, a palindrome: best on the forward strand
    best = answers.best_alignment(weights, 1, "GCGCAGCTGTCC")
    assert best["strand"] == "+" and best["offset"] == -3 and best["score"] == 6


def test_cli(tiny_cache, tmp_path, capsys):
    out = tmp_path / "sheet.md"
    assert answers.main(["--cache", str(tiny_cache), "--out", str(out), "--solutions", str(ROOT / "solutions")]) == 0
    assert out.exists() and "grader sheet written" in capsys.readouterr().out
