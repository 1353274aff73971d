"""`make autograder`: the Gradescope archive holds exactly what grading needs, and its
run_autograder grades a submission under AUTOGRADER_ROOT, always leaving a valid results.json."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SHARED_DATA

from a5kit import autograder, motifs, nbmeta
from a5kit.checking.core import load_cases
from a5kit.grader import results as results_mod
from a5kit.grader import settings as grader_settings
from a5kit.grader.runner import questions_in

pytestmark = pytest.mark.slow
HIDDEN = ROOT / "autograder" / "tests"


@pytest.fixture(scope="module")
def built(shared_tmp, tiny_cache) -> Path:
    return autograder.build(ROOT, tiny_cache, shared_tmp / "dist")


@pytest.fixture(scope="module")
def names(built) -> set[str]:
    with zipfile.ZipFile(built) as zf:
        return set(zf.namelist())


def _root_with(built: Path, tmp: Path, notebooks: list[Path]) -> Path:
    """An AUTOGRADER_ROOT as Gradescope lays it out: source/ (the archive) and submission/."""
    root = tmp / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(built) as zf:
        zf.extractall(root / "source")
    for script in autograder.SCRIPTS:
        (root / "source" / script).chmod(0o755)
    for folder in ("tests", "expected"):
        (root / "source" / folder).chmod(0o700)
    for path in notebooks:
        shutil.copyfile(path, root / "submission" / path.name)
    return root


def _run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(AUTOGRADER_ROOT=str(root), A5KIT_GRADER_PYTHON=python, A5KIT_STUDENT_USER="nobody")
    subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True, timeout=900)
    doc = json.loads((root / "results" / "results.json").read_text())
    results_mod.validate(doc)
    return doc


def test_archive_holds_exactly_the_intended_files(built, names, tiny_cache):
    manifest = json.loads((tiny_cache / "manifest.json").read_text())
    expected_files = {f"expected/{p.name}" for p in (built.parent / "autograder" / "expected").iterdir()}
    wanted = {
        "setup.sh",
        "run_autograder",
        "requirements.txt",
        "grader.json",
        *(f"tests/{p.name}" for p in HIDDEN.glob("q*.py")),
        "tests/reference.py",
        "cache/manifest.json",
        *(f"cache/{e['file']}" for e in manifest["entries"].values()),
        *expected_files,
    }
    wheels = {n for n in names if n.startswith("a5kit-") and n.endswith(".whl")}
    assert len(wheels) == 1 and names - wheels == wanted


def test_scripts_at_the_archive_root_are_executable(built):
    with zipfile.ZipFile(built) as zf:
        for script in autograder.SCRIPTS:
            assert (zf.getinfo(script).external_attr >> 16) & stat.S_IXUSR


def test_requirements_are_the_grader_pins(built):
    assert (built.parent / "autograder" / "requirements.txt").read_text() == (
        ROOT / "requirements" / "grader.lock"
    ).read_text()


def test_grader_config_lists_every_autograded_question_and_says_the_cache_is_tiny(built):
    config = grader_settings.load(built.parent / "autograder" / "grader.json")  # checked against grader.schema.json
    assert config.questions == {p.stem: nbmeta.autograded_questions(p) for p in grader_settings.source_notebooks(ROOT)}
    assert config.questions["02_dna_cnn"][:5] == ["q2a", "q2b", "q3a", "q3b", "q3c"]
    assert config.notebook_names == tuple(p.stem for p in grader_settings.source_notebooks(ROOT))
    assert config.points == nbmeta.notebook_points(grader_settings.source_notebooks(ROOT))
    assert config.question("q2a").public_points + config.question("q2a").hidden_points == config.question("q2a").points
    assert config.tiny_cache is True and "TINY" in config.cache


def _stored_test_set(built: Path) -> tuple[int, list[int]]:
    with np.load(built.parent / "autograder" / "expected" / "q3c.hidden_test_set.npz", allow_pickle=False) as npz:
        return int(npz["seed"]), npz["y"].tolist()


def test_the_hidden_motif_test_set_is_precomputed_at_build_time_from_the_seed_kept_with_it(built):
    seed, labels = _stored_test_set(built)
    rows = motifs.generate(motifs.N_TEST, seed)
    assert labels == [motifs.TFS.index(t) for _, t in rows]
    config = json.loads((built.parent / "autograder" / "grader.json").read_text())
    assert config["hidden_seed"] == "drawn at random" and str(seed) not in json.dumps(config)


def test_a_second_build_draws_another_hidden_seed_unless_one_is_given(built, shared_tmp, tiny_cache, monkeypatch):
    monkeypatch.delenv(motifs.HIDDEN_SEED_ENV, raising=False)
    drawn, _ = _stored_test_set(built)
    given = autograder.build(ROOT, tiny_cache, shared_tmp / "dist-given", seed=2026)
    assert _stored_test_set(given)[0] == 2026 != drawn  # the solution passes with 2026 too: tests/test_checks_dna.py
    assert os.environ.get(motifs.HIDDEN_SEED_ENV) is None  # the build set it only while computing


def _full_marks() -> float:
    questions = [q for p in sorted((ROOT / "solutions").glob("*.ipynb")) for q in questions_in(p)]
    return sum(c.points for q in questions for c in load_cases(q, HIDDEN))


def test_run_autograder_gives_the_solution_full_marks(built, shared_tmp):
    root = _root_with(built, shared_tmp / "solution", sorted((ROOT / "solutions").glob("*.ipynb")))
    doc = _run_autograder(root)
    failed = [(t["name"], t["output"]) for t in doc["tests"] if t["score"] < t["max_score"]]
    assert failed == [] and doc["score"] == pytest.approx(_full_marks())
    assert "graded 4 notebooks" in doc["output"]
    if (SHARED_DATA / "targets_human.txt").exists():  # without it a tiny cache has no track table for notebook 3
        assert "code cell" not in doc["output"], doc["output"]  # every cell of every notebook ran
    assert stat.S_IMODE((root / "results").stat().st_mode) == 0o700


def test_grading_needs_no_torch_in_the_trusted_process(built, shared_tmp):
    """Comparison and scoring import numpy, never torch, transformers, enformer_pytorch, pyjaspar or memelite."""
    root = _root_with(built, shared_tmp / "no-torch", sorted((ROOT / "solutions").glob("*.ipynb")))
    source = root / "source"
    blocked = ("torch", "transformers", "enformer_pytorch", "pyjaspar", "memelite", "kipoiseq")
    code = (
        f"import sys\nfor m in {blocked!r}: sys.modules[m] = None\n"
        "from a5kit.grader.runner import main\n"
        f"sys.exit(main([{str(root / 'submission')!r}, {str(root / 'out.json')!r}, '--tests', {str(source / 'tests')!r}, "
        f"'--expected', {str(source / 'expected')!r}, '--cache', {str(source / 'cache')!r}, '--config', "
        f"{str(source / 'grader.json')!r}, '--user', 'nobody']))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=600)
    doc = json.loads((root / "out.json").read_text())
    lost = [(t["name"], t["output"]) for t in doc["tests"] if t["score"] < t["max_score"]]
    assert lost == [] and doc["score"] == pytest.approx(_full_marks())


def test_run_autograder_writes_a_valid_results_json_when_the_grader_cannot_start(built, shared_tmp):
    root = _root_with(built, shared_tmp / "broken", [])
    doc = _run_autograder(root, python="/bin/false")
    assert doc["score"] == 0 and "could not start" in doc["output"]
