"""The student release: generated from solutions/ by nbgrader, in sync, and free of hidden tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import ROOT

from a5kit import nbmeta, release
from a5kit.checking import load_cases

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


def _config(tmp_path: Path, monkeypatch, table: str) -> Path:
    """A root whose pyproject.toml has this [tool.a5kit.release] table, with no environment override."""
    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    monkeypatch.delenv("A5KIT_REF", raising=False)
    (tmp_path / "pyproject.toml").write_text(f"[tool.a5kit.release]\n{table}\n")
    return tmp_path


def test_release_refuses_a_missing_repository(tmp_path, monkeypatch):
    root = _config(tmp_path, monkeypatch, "repository = ''\nref = 'v1.0'")
    with pytest.raises(release.ReleaseError, match="no student repository configured"):
        release.build(root, tmp_path / "out")


@pytest.mark.parametrize("placeholder", release.PLACEHOLDER_REPOSITORIES)
def test_release_refuses_the_placeholder_repository_in_one_line(tmp_path, monkeypatch, placeholder):
    root = _config(tmp_path, monkeypatch, f"repository = '{placeholder}'\nref = 'v1.0'")
    with pytest.raises(release.ReleaseError, match="set repository = ") as err:
        release.read_config(root)
    assert "\n" not in str(err.value)


def test_release_refuses_a_missing_ref(tmp_path, monkeypatch):
    root = _config(tmp_path, monkeypatch, "repository = 'https://github.com/course/a5-student'")
    with pytest.raises(release.ReleaseError, match="no ref configured"):
        release.read_config(root)


@pytest.mark.parametrize("ref", ["main", "master", "HEAD", "fall-term", "abc123"])
def test_release_refuses_an_unpinned_ref(tmp_path, monkeypatch, ref):
    root = _config(tmp_path, monkeypatch, f"repository = 'https://github.com/course/a5-student'\nref = '{ref}'")
    with pytest.raises(release.ReleaseError, match="can move"):
        release.read_config(root)


@pytest.mark.parametrize("ref", ["v1.0", "2026.1", "v2.0.1-fall", "0123456789abcdef0123456789abcdef01234567"])
def test_release_accepts_a_tag_or_a_full_commit(tmp_path, monkeypatch, ref):
    root = _config(tmp_path, monkeypatch, f"repository = 'https://github.com/course/a5-student'\nref = '{ref}'")
    config = release.read_config(root)
    assert config.install_spec == f"a5kit[student] @ git+https://github.com/course/a5-student@{ref}"
    assert f"/blob/{ref}/assignment5/01_x.ipynb" in config.colab_badge("01_x.ipynb")
    assert not config.is_example


def test_committed_notebooks_use_the_example_repository_and_the_release_says_so(monkeypatch, capsys):
    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    monkeypatch.delenv("A5KIT_REF", raising=False)
    config = release.read_config(ROOT)
    assert config.is_example and "EXAMPLE" in config.repository
    assert config.install_spec in (ROOT / "assignment5" / "01_self_attention.ipynb").read_text()


def test_release_refuses_a_repository_colab_cannot_open(tmp_path, monkeypatch):
    monkeypatch.setenv("A5KIT_REPOSITORY", "https://example.org/somewhere")
    with pytest.raises(release.ReleaseError, match=r"github\.com/OWNER/REPO"):
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
    for path in HIDDEN.glob("q*.py"):
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
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("a5kit-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = "\n".join(
            zf.read(n).decode("utf-8", "replace") for n in names if n.endswith((".py", ".txt", ".md", ".json"))
        )
    assert "a5kit/public_checks/q2a.py" in names and "a5kit/datasets/training.txt" in names
    assert not [
        n for n in names if "autograder/" in n or "/tests/" in n or n.endswith("test.txt")
    ]  # no hidden test files
    leaked = sorted(n for n in _hidden_names() if re.search(rf"\b{n}\b", text))
    assert not leaked


def test_grade_cell_points_equal_the_sum_of_their_cases():
    for src in SOURCES:
        for question, points in nbmeta.graded_points(src, autograded=True).items():
            total = sum(c.points for c in load_cases(question, HIDDEN))
            assert points == pytest.approx(total), f"{src.name} {question}: cell {points} vs cases {total}"
            assert f'grade("{question}")' in nbmeta.source(nbmeta.find(src, question))


def test_every_question_module_has_public_and_hidden_cases():
    for path in sorted((ROOT / "src" / "a5kit" / "public_checks").glob("q*.py")):
        cases = load_cases(path.stem, HIDDEN)
        assert any(not c.hidden for c in cases), f"{path.stem}: no public case"
        assert any(c.hidden for c in cases), f"{path.stem}: no hidden case"


def test_json_of_release_is_valid_nbformat(regenerated):
    for nb_path in regenerated.glob("*.ipynb"):
        nbformat.validate(nbformat.read(nb_path, as_version=4))
        assert json.loads(nb_path.read_text())["nbformat"] == 4


# -- the public checks' stored values -----------------------------------------------------------


def test_stored_public_values_equal_a_fresh_computation_by_the_reference():
    """public_expected.npz is generated (make release) from autograder/tests/reference.py: never stale."""
    fresh = release.public_expected(ROOT)
    with np.load(ROOT / release.PUBLIC_EXPECTED, allow_pickle=False) as npz:
        committed = {k: npz[k] for k in npz.files}
    assert sorted(committed) == sorted(fresh), (
        "run `make release` and commit src/a5kit/public_checks/public_expected.npz"
    )
    for key, value in fresh.items():
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(committed[key], value, rtol=1e-9, atol=1e-12, err_msg=key)
        else:
            assert committed[key].tolist() == value.tolist(), key


def test_writing_the_stored_values_twice_gives_the_same_bytes(tmp_path):
    from a5kit.public_checks import stored

    values = {"b": np.arange(3.0), "a": np.array("ACGT")}
    stored.write(values, tmp_path / "one.npz")
    stored.write(dict(reversed(values.items())), tmp_path / "two.npz")
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()


def test_grade_tells_a_student_how_many_points_the_hidden_tests_add(monkeypatch, capsys):
    from a5kit import checking
    from a5kit.checking import core

    monkeypatch.setattr(core, "_hidden_dir", None)
    ns = {"one_hot_encode_dna": lambda s: np.eye(4, dtype=np.float32)[["ACGT".index(c) for c in s]]}
    cases = load_cases("q2a", HIDDEN)
    hidden = sum(c.points for c in cases if c.hidden)
    public = sum(c.points for c in cases if not c.hidden)
    assert checking.grade("q2a", ns) == 1.5  # an upper-case-only encoder: lowercase, N and another letter fail
    assert capsys.readouterr().out.startswith(
        f"q2a: public checks 1.5/{public:g} — {hidden:g} more points come from hidden tests after you submit"
    )


def test_check_and_grade_silence_progress_bars(monkeypatch, capsys):
    from tqdm import std, tqdm

    from a5kit import checking
    from a5kit.checking import core

    def encode_with_a_bar(s):
        return np.stack([np.eye(4, dtype=np.float32)["ACGT".index(c)] for c in tqdm(s, desc="encoding")])

    monkeypatch.setattr(core, "_hidden_dir", None)
    original = std.tqdm.__dict__["__init__"]
    checking.check("q2a", {"one_hot_encode_dna": encode_with_a_bar})
    checking.grade("q2a", {"one_hot_encode_dna": encode_with_a_bar})
    captured = capsys.readouterr()
    assert "encoding" not in captured.out + captured.err
    assert std.tqdm.__dict__["__init__"] is original  # bars are back after the checks


# -- the student distribution (dist/student) -----------------------------------------------------


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    return release.build_student(ROOT, tmp_path_factory.mktemp("dist") / "student", notebooks=ROOT / "assignment5")


def _texts(tree: Path) -> dict[str, str]:
    return {
        p.relative_to(tree).as_posix(): p.read_text(errors="replace")
        for p in tree.rglob("*")
        if p.is_file() and p.suffix != ".npz"
    }


def test_student_tree_holds_notebooks_readme_licence_pyproject_and_package_only(student):
    assert {p.name for p in student.iterdir()} == {"assignment5", "src", "README.md", "LICENSE", "pyproject.toml"}
    assert sorted(p.name for p in (student / "assignment5").iterdir()) == sorted(p.name for p in SOURCES)
    assert [p.name for p in (student / "src").iterdir()] == ["a5kit"]


def test_student_tree_leaks_nothing_graded(student):
    files = [p.relative_to(student).as_posix() for p in student.rglob("*") if p.is_file()]
    assert not [f for f in files if f.split("/")[0] in ("solutions", "autograder", "tests", "data")]
    assert not [
        f for f in files if f.endswith(".npz") and not f.endswith("checks/public_expected.npz")
    ]  # no expected values of hidden tests
    assert not [
        f for f in files if any(f.endswith(f"a5kit/{m}") for m in release.INSTRUCTOR_ONLY) or f.endswith("reference.py")
    ]
    texts = _texts(student)
    for marker in (
        "BEGIN SOLUTION",
        "BEGIN HIDDEN TESTS",
        "from a5kit_reference import",
        "DEFAULT_HIDDEN_SEED",
        "reference_attention",
        "reference_one_hot",
        "reference_apply_variant",
        "reference_reverse_complement",
        "complement_reversed",
        "strongest_filter_index",
        "reference_pca_2d",
        "reference_extremes",
        "reference_closest",
        "reference_strongest",
    ):
        assert not [name for name, text in texts.items() if marker in text], marker
    leaked = sorted(
        {(name, n) for n in _hidden_names() for name, text in texts.items() if re.search(rf"\b{n}\b", text)}
    )
    assert not leaked


def test_student_stored_values_are_public_inputs_answers_only(student):
    with np.load(student / "src" / "a5kit" / "public_checks" / "public_expected.npz", allow_pickle=False) as npz:
        assert not [k for k in npz.files if "hidden" in k and not k.endswith(".points.hidden")]
        assert max(npz[k].size for k in npz.files) < 1000  # small arrays for fixed public inputs, no data set


def test_student_package_has_no_hidden_seed():
    code = (
        "import a5kit.motifs as m\ntry:\n    m.hidden_seed_from_env()\nexcept m.HiddenSeedMissing:\n    print('refused')\n"
        "print(hasattr(m, 'DEFAULT_HIDDEN_SEED'))"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "A5KIT_HIDDEN_SEED"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == ["refused", "False"]


def test_student_package_imports_on_its_own(student):
    """Every module of the student package imports from dist/student/src alone: nothing needs a left-out module."""
    code = (
        "import importlib, pkgutil, sys, a5kit\n"
        f"assert a5kit.__file__.startswith({str(student)!r}), a5kit.__file__\n"
        "names = [m.name for m in pkgutil.walk_packages(a5kit.__path__, 'a5kit.')]\n"
        "for name in names: importlib.import_module(name)\n"
        "print(len(names))"
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(student / "src")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.strip()) > 30


def test_student_wheel_is_a_strict_subset_of_the_grader_wheel(student, tmp_path):
    wheels = {}
    for name, project in (("student", student), ("grader", ROOT)):
        # each project builds in a folder of its own: setuptools' build/lib keeps files between builds
        work = tmp_path / f"{name}-build"
        work.mkdir()
        (work / "setup.cfg").write_text(f"[build]\nbuild_base = {work / 'build'}\n[egg_info]\negg_base = {work}\n")
        env = {**__import__("os").environ, "DIST_EXTRA_CONFIG": str(work / "setup.cfg")}
        build = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(tmp_path / name),
                str(project),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert build.returncode == 0, build.stderr[-2000:]
        (wheel,) = (tmp_path / name).glob("a5kit-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            wheels[name] = {n: zf.read(n) for n in zf.namelist() if n.startswith("a5kit/")}
    assert "a5kit/public_checks/public_expected.npz" in wheels["student"]
    assert set(wheels["student"]) < set(wheels["grader"])
    assert all(wheels["student"][n] == wheels["grader"][n] for n in wheels["student"])
    assert {n.removeprefix("a5kit/") for n in set(wheels["grader"]) - set(wheels["student"])} == set(
        release.INSTRUCTOR_ONLY
    )


def test_student_readme_says_how_to_open_check_and_submit_all_four_notebooks_at_once(student):
    text = (student / "README.md").read_text()
    assert "Open in Colab" in text and "check(" in text and "all four together in one" in text
    assert release.read_config(ROOT).ref in text


def test_every_notebook_ends_with_a_submit_section_asking_for_all_four_at_once():
    for src in SOURCES:
        last = nbformat.read(src, as_version=4).cells[-1]
        assert last.cell_type == "markdown" and last.source.startswith("## Submit"), src.name
        assert "all four notebooks together, in one Gradescope submission" in last.source
        assert "replaces" in last.source


def test_make_release_refuses_the_example_repository_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    monkeypatch.delenv("A5KIT_REF", raising=False)
    monkeypatch.setattr(release, "write_public_expected", lambda root: pytest.fail("nothing may be written"))
    assert (
        release.main(["--root", str(ROOT), "--out", str(tmp_path / "nb"), "--student-out", str(tmp_path / "student")])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "EXAMPLE repository" in err[0] and "full commit hash" in err[0] and "--example" in err[0]
    assert not (tmp_path / "student").exists()


def _example_release(tmp_path, monkeypatch, *flags: str) -> int:
    """``make release EXAMPLE=1`` into ``tmp_path`` (src/ left alone), with ``flags`` added."""
    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    monkeypatch.delenv("A5KIT_REF", raising=False)
    monkeypatch.setattr(release, "write_public_expected", lambda root: root / release.PUBLIC_EXPECTED)
    monkeypatch.setattr(release, "write_written_questions", lambda root: root / release.WRITTEN_QUESTIONS)
    where = ["--root", str(ROOT), "--out", str(tmp_path / "nb"), "--student-out", str(tmp_path / "student")]
    return release.main([*where, "--example", *flags])


def test_make_release_with_example_writes_the_student_tree_and_says_it_is_not_for_publishing(
    tmp_path, monkeypatch, capsys
):
    assert _example_release(tmp_path, monkeypatch) == 0
    said = capsys.readouterr()
    assert (tmp_path / "student" / "pyproject.toml").exists() and "EXAMPLE" in said.out
    assert "warning: release: built with the EXAMPLE repository" in said.err and "not for publishing" in said.err


def test_a_quiet_release_says_only_its_warning_and_a_verbose_one_names_every_file(tmp_path, monkeypatch, capsys):
    assert _example_release(tmp_path, monkeypatch, "--quiet") == 0
    quiet = capsys.readouterr()
    assert quiet.out == "" and "not for publishing" in quiet.err
    assert _example_release(tmp_path, monkeypatch, "--verbose") == 0
    assert "student tree: src/a5kit/checking/core.py" in capsys.readouterr().out


def test_make_autograder_refuses_the_example_repository_with_one_line(tmp_path, monkeypatch, capsys):
    from a5kit import autograder

    monkeypatch.delenv("A5KIT_REPOSITORY", raising=False)
    monkeypatch.delenv("A5KIT_REF", raising=False)
    monkeypatch.setattr(autograder, "build", lambda *a, **k: pytest.fail("the build must not start"))
    assert autograder.main(["--root", str(ROOT), "--cache", str(tmp_path), "--out", str(tmp_path / "dist")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("autograder: the autograder build refused") and "EXAMPLE" in err[0]


def test_a_full_commit_hash_is_an_accepted_ref():
    assert release.is_pinned("0123456789abcdef0123456789abcdef01234567")
    assert not release.is_pinned("main") and not release.is_pinned(
        "a1b2c3d"
    )  # an abbreviated hash can become ambiguous
