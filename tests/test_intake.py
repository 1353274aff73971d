"""How the grader finds a submission's notebooks: renames, folders, archives, duplicates, bad files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from a5kit.grader import intake
from a5kit.grader.intake import check_notebook
from a5kit.grader.settings import source_notebooks

# The notebooks grader.json lists: every source notebook in solutions/ (`make autograder` writes them there).
NOTEBOOKS = tuple(p.stem for p in source_notebooks(ROOT))


def collect(folder: Path, workdir: Path) -> intake.Intake:
    return intake.collect(folder, workdir, NOTEBOOKS)


def notebook_stem(filename: str) -> str | None:
    return intake.notebook_stem(filename, NOTEBOOKS)


def write_nb(path: Path, source: str = "x = 1", mtime: float | None = None) -> Path:
    """A valid nbformat 4 notebook at ``path`` (parents created), optionally with a given mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_markdown_cell("# title"), new_code_cell(source)]), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def nb_text(source: str = "x = 1") -> str:
    return nbformat.writes(new_notebook(cells=[new_code_cell(source)]))


V3_NOTEBOOK = {
    "nbformat": 3,
    "nbformat_minor": 0,
    "metadata": {"name": ""},
    "worksheets": [
        {
            "cells": [
                {
                    "cell_type": "code",
                    "input": "x = 1",
                    "language": "python",
                    "outputs": [],
                    "collapsed": False,
                    "metadata": {},
                }
            ],
            "metadata": {},
        }
    ],
}


@pytest.fixture
def sub(tmp_path) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    return folder


@pytest.fixture
def work(tmp_path) -> Path:
    return tmp_path / "work"


def notes_text(result: intake.Intake) -> str:
    return "\n".join(result.notes)


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "01_self_attention.ipynb",
        "Copy of 01_self_attention.ipynb",
        "Copy of Copy of 01_self_attention.ipynb",
        "01_self_attention (1).ipynb",
        "01_self_attention(2).ipynb",
        "01_Self_Attention.ipynb",
        "01_self_attention-2.ipynb",
        "01_self_attention - Copy.ipynb",
        "01_self_attention copy.ipynb",
        "Copy of 01_self_attention (3).IPYNB",
    ],
)
def test_notebook_stem_tolerates_colab_and_browser_renames(filename):
    assert notebook_stem(filename) == "01_self_attention"


@pytest.mark.parametrize(
    "filename",
    [
        "01_self_attention_notes.ipynb",
        "self_attention.ipynb",
        "01_self_attention-checkpoint.ipynb",
        "01_self_attention.py",
        "05_extra.ipynb",
    ],
)
def test_notebook_stem_rejects_other_files(filename):
    assert notebook_stem(filename) is None


def test_all_four_notebooks_are_found_by_their_exact_names(sub, work):
    for stem in NOTEBOOKS:
        write_nb(sub / f"{stem}.ipynb")
    result = collect(sub, work)
    assert result.notebooks == {stem: (sub / f"{stem}.ipynb").resolve() for stem in NOTEBOOKS}
    assert result.notes == []


def test_renamed_notebook_is_graded_and_the_note_names_the_file(sub, work):
    write_nb(sub / "Copy of 02_dna_cnn (1).ipynb")
    result = collect(sub, work)
    assert result.notebooks["02_dna_cnn"].name == "Copy of 02_dna_cnn (1).ipynb"
    assert "02_dna_cnn: graded Copy of 02_dna_cnn (1).ipynb" in result.notes


def test_notebook_in_a_subfolder_is_found(sub, work):
    write_nb(sub / "assignment5" / "notebooks" / "03_enformer.ipynb")
    result = collect(sub, work)
    assert result.notebooks["03_enformer"] == (sub / "assignment5" / "notebooks" / "03_enformer.ipynb").resolve()


def test_missing_notebooks_are_listed_in_a_note(sub, work):
    write_nb(sub / "01_self_attention.ipynb")
    result = collect(sub, work)
    assert set(result.notebooks) == {"01_self_attention"}
    assert "not found in the submission: 02_dna_cnn.ipynb, 03_enformer.ipynb, 04_finetune.ipynb" in result.notes


# --- extra and empty -----------------------------------------------------------------------


def test_extra_files_are_ignored_with_a_note_naming_them(sub, work):
    write_nb(sub / "01_self_attention.ipynb")
    (sub / "notes.txt").write_text("hi")
    (sub / "data").mkdir()
    (sub / "data" / "weights.pt").write_bytes(b"\0" * 10)
    write_nb(sub / "scratch.ipynb")
    result = collect(sub, work)
    assert set(result.notebooks) == {"01_self_attention"}
    ignored = [n for n in result.notes if n.startswith("ignored")]
    assert len(ignored) == 1
    for name in ("notes.txt", "data/weights.pt", "scratch.ipynb"):
        assert name in ignored[0]


def test_system_files_and_checkpoints_are_not_graded_nor_listed(sub, work):
    write_nb(sub / "01_self_attention.ipynb", mtime=1_000)
    write_nb(sub / ".ipynb_checkpoints" / "01_self_attention.ipynb", mtime=2_000)
    (sub / ".DS_Store").write_bytes(b"x")
    write_nb(sub / "__MACOSX" / "._01_self_attention.ipynb")
    result = collect(sub, work)
    assert result.notebooks["01_self_attention"] == (sub / "01_self_attention.ipynb").resolve()
    assert "DS_Store" not in notes_text(result) and "checkpoints" not in notes_text(result)


def test_empty_folder_gives_no_notebooks_and_says_so(sub, work):
    result = collect(sub, work)
    assert result.notebooks == {}
    assert len(result.notes) == 1 and "empty" in result.notes[0]


def test_missing_folder_is_reported_as_an_empty_submission(tmp_path, work):
    result = collect(tmp_path / "nope", work)
    assert result.notebooks == {} and "empty" in result.notes[0]


def test_submission_without_any_notebook_lists_all_as_missing(sub, work):
    (sub / "report.pdf").write_bytes(b"%PDF")
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any(n.startswith("not found") and all(s in n for s in NOTEBOOKS) for n in result.notes)
    assert any("report.pdf" in n for n in result.notes)


# --- duplicates ----------------------------------------------------------------------------


def test_duplicate_notebooks_the_most_recently_modified_is_graded(sub, work):
    old = write_nb(sub / "01_self_attention.ipynb", mtime=1_000_000)
    new = write_nb(sub / "Copy of 01_self_attention.ipynb", mtime=2_000_000)
    result = collect(sub, work)
    assert result.notebooks["01_self_attention"] == new.resolve()
    note = next(n for n in result.notes if n.startswith("01_self_attention:"))
    assert "graded Copy of 01_self_attention.ipynb" in note
    assert "ignored 01_self_attention.ipynb" in note
    assert old.exists()


def test_duplicate_notebooks_with_equal_mtime_take_the_last_name(sub, work):
    write_nb(sub / "01_self_attention (1).ipynb", mtime=1_000_000)
    write_nb(sub / "01_self_attention (2).ipynb", mtime=1_000_000)
    result = collect(sub, work)
    assert result.notebooks["01_self_attention"].name == "01_self_attention (2).ipynb"
    assert any("same modification time" in n and "ignored 01_self_attention (1).ipynb" in n for n in result.notes)


def test_duplicate_in_subfolder_competes_with_top_level_copy(sub, work):
    write_nb(sub / "02_dna_cnn.ipynb", mtime=1_000_000)
    newer = write_nb(sub / "old" / "02_dna_cnn.ipynb", mtime=3_000_000)
    assert collect(sub, work).notebooks["02_dna_cnn"] == newer.resolve()


# --- archives ------------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0)), data)
    return path


def test_notebooks_inside_a_zip_are_extracted_into_workdir(sub, work):
    make_zip(sub / "submission.zip", {"a5/01_self_attention.ipynb": nb_text(), "a5/04_finetune (1).ipynb": nb_text()})
    result = collect(sub, work)
    assert set(result.notebooks) == {"01_self_attention", "04_finetune"}
    for path in result.notebooks.values():
        assert path.resolve().is_relative_to(work.resolve())
        assert check_notebook(path) is None


def test_zip_member_path_traversal_is_refused_and_nothing_escapes(sub, work, tmp_path):
    make_zip(sub / "evil.zip", {"../../01_self_attention.ipynb": nb_text(), "02_dna_cnn.ipynb": nb_text()})
    result = collect(sub, work)
    assert set(result.notebooks) == {"02_dna_cnn"}
    assert not (tmp_path / "01_self_attention.ipynb").exists()
    assert not (tmp_path.parent / "01_self_attention.ipynb").exists()
    assert any("refused from evil.zip" in n and "../../01_self_attention.ipynb" in n for n in result.notes)


def test_zip_member_with_absolute_path_is_refused(sub, work):
    make_zip(sub / "abs.zip", {"/tmp/01_self_attention.ipynb": nb_text()})
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any("absolute path" in n for n in result.notes)


def test_zip_over_the_size_cap_is_skipped_with_a_note(sub, work, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_BYTES", 1000)
    make_zip(sub / "big.zip", {"01_self_attention.ipynb": nb_text("x = '" + "a" * 5000 + "'")})
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any("refused from big.zip" in n and "limit" in n for n in result.notes)


def test_zip_with_too_many_members_is_not_opened(sub, work, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_MEMBERS", 3)
    make_zip(sub / "many.zip", {f"f{i}.txt": "x" for i in range(4)} | {"01_self_attention.ipynb": nb_text()})
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any("many.zip has 5 entries" in n for n in result.notes)


def test_corrupt_zip_is_noted_and_the_rest_still_graded(sub, work):
    (sub / "broken.zip").write_bytes(b"PK\x03\x04 definitely not a zip")
    write_nb(sub / "03_enformer.ipynb")
    result = collect(sub, work)
    assert set(result.notebooks) == {"03_enformer"}
    assert any("broken.zip" in n and "not a valid zip" in n for n in result.notes)


def test_zip_extra_members_are_named_in_the_ignored_note(sub, work):
    make_zip(sub / "s.zip", {"01_self_attention.ipynb": nb_text(), "readme.md": "hi"})
    result = collect(sub, work)
    assert any(n.startswith("ignored") and "s.zip:readme.md" in n for n in result.notes)


def test_newer_loose_file_beats_older_zip_member_by_archive_timestamp(sub, work):
    make_zip(sub / "s.zip", {"01_self_attention.ipynb": nb_text()})  # member dated 2024-05-01
    loose = write_nb(sub / "Copy of 01_self_attention.ipynb")  # written now
    assert collect(sub, work).notebooks["01_self_attention"] == loose.resolve()


# --- symlinks ------------------------------------------------------------------------------


def symlink_or_skip(link: Path, target: Path) -> None:
    try:
        link.symlink_to(target)
    except (OSError, NotImplementedError):
        pytest.skip("symlinks not supported here")


def test_symlink_to_a_file_outside_the_submission_is_not_followed(sub, work, tmp_path):
    secret = write_nb(tmp_path / "outside" / "01_self_attention.ipynb")
    symlink_or_skip(sub / "01_self_attention.ipynb", secret)
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any("symbolic link" in n for n in result.notes)


def test_symlink_to_a_folder_is_not_descended(sub, work, tmp_path):
    write_nb(tmp_path / "outside" / "02_dna_cnn.ipynb")
    symlink_or_skip(sub / "linked", tmp_path / "outside")
    result = collect(sub, work)
    assert result.notebooks == {}
    assert any("linked/" in n and "symbolic link" in n for n in result.notes)


# --- notebooks that cannot be graded ------------------------------------------------------


def test_corrupt_notebook_is_still_returned_for_the_grader_to_report(sub, work):
    (sub / "01_self_attention.ipynb").write_text("{ not json")
    result = collect(sub, work)
    assert result.notebooks["01_self_attention"] == (sub / "01_self_attention.ipynb").resolve()


def test_check_notebook_accepts_a_valid_v4_notebook(tmp_path):
    assert check_notebook(write_nb(tmp_path / "ok.ipynb")) is None


def test_check_notebook_reports_the_line_of_invalid_json(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text('{\n "cells": [],\n "nbformat": 4,,\n}\n')
    assert check_notebook(path) == "not a notebook: invalid JSON at line 3"


def test_check_notebook_detects_nbformat_3_without_upgrading_the_file(tmp_path):
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(V3_NOTEBOOK))
    before = path.read_bytes()
    assert check_notebook(path) == "nbformat 3 notebook: open and re-save it in Jupyter/Colab"
    assert path.read_bytes() == before


def test_check_notebook_reports_a_notebook_without_cells(tmp_path):
    path = tmp_path / "blank.ipynb"
    nbformat.write(new_notebook(), path)
    assert check_notebook(path) == "notebook has no cells"


def test_check_notebook_reports_an_empty_file(tmp_path):
    path = tmp_path / "empty.ipynb"
    path.write_bytes(b"")
    assert check_notebook(path) == "not a notebook: the file is empty"


def test_check_notebook_reports_json_that_is_not_a_notebook(tmp_path):
    path = tmp_path / "list.ipynb"
    path.write_text("[1, 2, 3]")
    assert check_notebook(path).startswith("not a notebook")


def test_check_notebook_reports_a_v4_notebook_that_breaks_the_schema(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text(
        json.dumps(
            {"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": [{"cell_type": "code", "source": "x"}]}
        )
    )
    reason = check_notebook(path)
    assert reason is not None and reason.startswith("not a valid notebook") and "metadata" in reason


# --- the list of notebooks comes from grader.json ----------------------------------------------


def test_a_notebook_grader_json_lists_is_found_without_editing_intake(sub, work):
    write_nb(sub / "Copy of 05_toy (1).ipynb")
    result = intake.collect(sub, work, (*NOTEBOOKS, "05_toy"))
    assert result.notebooks["05_toy"] == (sub / "Copy of 05_toy (1).ipynb").resolve()


def test_a_notebook_grader_json_does_not_list_is_ignored_with_a_note(sub, work):
    write_nb(sub / "05_toy.ipynb")
    result = intake.collect(sub, work, NOTEBOOKS)
    assert "05_toy" not in result.notebooks and "ignored (not assignment notebooks): 05_toy.ipynb" in notes_text(result)


def test_a_notebook_over_the_size_limit_is_refused_with_the_limit_and_what_to_do(tmp_path, monkeypatch):
    from a5kit.grader import intake

    monkeypatch.setattr(intake, "MAX_NOTEBOOK_BYTES", 2**20)  # the real limit is 50 MB; the message is the same
    path = write_nb(tmp_path / "big.ipynb")
    path.write_text(path.read_text() + " " * 2**20)  # valid JSON, over the limit
    message = check_notebook(path)
    assert message.startswith("not graded: the file is larger than 1 MB, the autograder's limit for one notebook")
    assert "Clear all outputs" in message


def test_the_size_limit_is_stated_in_the_readme_and_every_submit_section():
    from a5kit import nbmeta
    from a5kit.grader.intake import MAX_NOTEBOOK_BYTES

    limit = f"{MAX_NOTEBOOK_BYTES // 2**20} MB"
    assert f"over {limit} is not" in " ".join((ROOT / "README.md").read_text().split())
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        submit = " ".join(nbmeta.cells_of(path)[-1].source.split())
        assert f"over {limit} is not" in submit and "Clear all outputs" in submit, path.name
