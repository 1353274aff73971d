"""The student release: generated from solutions/ by nbgrader, in sync, and free of hidden tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from a5kit import release
from a5kit.grading import load_cases
from conftest import ROOT

HIDDEN = ROOT / "autograder" / "tests"
SOURCES = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release.build(ROOT, out)
    return out


def test_there_are_source_notebooks():
    assert [p.name for p in SOURCES][:2] == ["01_self_attention.ipynb", "02_dna_cnn.ipynb"]


def test_committed_release_matches_a_fresh_build(regenerated):
    committed = sorted(p.name for p in (ROOT / "assignment5").glob("*.ipynb"))
    assert committed == sorted(p.name for p in regenerated.glob("*.ipynb"))
    for name in committed:
        assert (ROOT / "assignment5" / name).read_text() == (regenerated / name).read_text(), (
            f"assignment5/{name} differs from its source: run `make release` and commit"
        )


def test_release_is_reproducible(regenerated, tmp_path):
    release.build(ROOT, tmp_path)
    for nb in regenerated.glob("*.ipynb"):
        assert (tmp_path / nb.name).read_bytes() == nb.read_bytes()


def test_release_refuses_a_missing_repository(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.a5kit.release]\nrepository = ''\n")
    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    with pytest.raises(release.ReleaseError, match="no repository configured"):
        release.build(tmp_path, tmp_path / "out")


def test_release_refuses_a_repository_colab_cannot_open(tmp_path, monkeypatch):
    monkeypatch.setenv("A5KIT_REPOSITORY", "https://example.org/somewhere")
    with pytest.raises(release.ReleaseError, match="github.com/OWNER/REPO"):
        release.read_config(ROOT)


def _release_text(regenerated: Path) -> str:
    return "\n".join(p.read_text() for p in regenerated.glob("*.ipynb"))


def test_release_has_a_colab_badge_and_install_line_from_the_configured_repository(regenerated):
    config = release.read_config(ROOT)
    for nb_path in regenerated.glob("*.ipynb"):
        text = nb_path.read_text()
        assert "@@" not in text, f"{nb_path.name}: a token was not filled"
        assert config.colab_badge(nb_path.name).replace('"', '\\"') in text
        assert config.install_spec in text


def test_release_carries_no_solution_hidden_test_or_rubric(regenerated):
    text = _release_text(regenerated)
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "use_hidden_tests", "Rubric"):
        assert marker not in text


def _hidden_names() -> set[str]:
    names = set()
    for path in HIDDEN.glob("*.py"):
        for case in load_cases(path.stem, HIDDEN):
            if case.hidden:
                names.add(case.func.__name__)
    return names


def test_release_names_no_hidden_test(regenerated):
    text = _release_text(regenerated)
    leaked = sorted(n for n in _hidden_names() if n in text)
    assert not leaked


def test_built_wheel_holds_public_checks_only(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("a5kit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = "\n".join(zf.read(n).decode("utf-8", "replace") for n in names if n.endswith((".py", ".txt", ".md", ".json")))
    assert "a5kit/checks/q2a.py" in names and "a5kit/datasets/training.txt" in names
    assert not [n for n in names if "autograder/" in n or "/tests/" in n or n.endswith("test.txt")]  # no hidden test files
    leaked = sorted(n for n in _hidden_names() if re.search(rf"\b{n}\b", text))
    assert not leaked


def test_grade_cell_points_equal_the_sum_of_their_cases():
    for src in SOURCES:
        nb = nbformat.read(src, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                question = meta["grade_id"]
                total = sum(c.points for c in load_cases(question, HIDDEN))
                assert meta["points"] == pytest.approx(total), f"{src.name} {question}: cell {meta['points']} vs cases {total}"
                assert f'grade("{question}")' in cell.source


def test_every_question_module_has_public_and_hidden_cases():
    for path in sorted((ROOT / "src" / "a5kit" / "checks").glob("q*.py")):
        cases = load_cases(path.stem, HIDDEN)
        assert any(not c.hidden for c in cases), f"{path.stem}: no public case"
        assert any(c.hidden for c in cases), f"{path.stem}: no hidden case"


def test_json_of_release_is_valid_nbformat(regenerated):
    for nb_path in regenerated.glob("*.ipynb"):
        nbformat.validate(nbformat.read(nb_path, as_version=4))
        assert json.loads(nb_path.read_text())["nbformat"] == 4
