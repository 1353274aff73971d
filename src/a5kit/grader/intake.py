"""Find the notebooks to grade in one Gradescope submission folder.

Students upload from Colab or a browser, so files arrive renamed ("Copy of 01_self_attention.ipynb",
"01_self_attention (1).ipynb"), in subfolders, inside a .zip, or twice. :func:`collect` maps each
expected notebook (the names grader.json lists, :mod:`a5kit.grader.settings`) to exactly one file and
explains every choice in ``notes`` (shown in the summary).
It never follows a symlink out of the submission and extracts archives only within fixed limits.
:func:`check_notebook` says, in words a student can act on, why a file cannot be graded.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

MAX_ZIP_BYTES = 200 * 1024 * 1024  # total uncompressed bytes extracted from one archive
MAX_ZIP_MEMBERS = 1000  # an archive with more entries is not opened at all
MAX_LISTED = 20  # names listed in one note before "and N more"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024  # a notebook file larger than this is not read

_JUNK_DIRS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git", ".Trash"}
_JUNK_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class Intake:
    """The notebook file chosen for each expected stem, and what the summary should say about it."""

    notebooks: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    stem: str
    path: Path  # the file to read (inside the submission or the workdir)
    shown: str  # how the summary names it (relative path, or "archive.zip:member")
    name: str  # the file name as uploaded, for breaking mtime ties
    mtime: float


class _TooLarge(Exception):
    """An archive member decompressed to more bytes than it was allowed."""


def notebook_stem(filename: str, notebooks: Collection[str]) -> str | None:
    """The stem of ``notebooks`` a file name stands for, tolerating Colab/browser/OS copy renames, else None."""
    if not filename.lower().endswith(".ipynb"):
        return None
    s = filename[: -len(".ipynb")].strip().lower()
    while True:
        before = s
        s = re.sub(r"^copy\s+of\s+", "", s)  # Colab: "Copy of x", "Copy of Copy of x"
        s = re.sub(r"\s*\(\s*\d+\s*\)$", "", s)  # browsers: "x (1)", "x(2)"
        s = re.sub(r"\s*-\s*copy$", "", s)  # Windows: "x - Copy"
        s = re.sub(r"\s+copy$", "", s)  # macOS: "x copy"
        s = re.sub(r"(?<=[a-z])[\s-]+\d+$", "", s)  # "x-2", macOS "x 2"
        s = s.strip()
        if s == before:
            break
    s = re.sub(r"[\s_-]+", "_", s)
    return next((n for n in notebooks if re.sub(r"[\s_-]+", "_", n.lower()) == s), None)


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _is_junk(name: str) -> bool:
    return name in _JUNK_FILES or name.startswith(("._", "."))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an archive member must not be extracted, or None if it is safe to."""
    name = info.filename
    if "\x00" in name:
        return "name contains a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "path leaves the archive folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted"
    return None


def _copy_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> int:
    """Write one member to ``target``, refusing to write more than ``limit`` bytes; returns bytes written."""
    written = 0
    with archive.open(info) as src, open(target, "wb") as dst:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise _TooLarge
            dst.write(chunk)
    return written


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0


def _extract_notebooks(
    archive_path: Path, shown: str, dest: Path, notes: list[str], extras: list[str], notebooks: Collection[str]
) -> list[_Candidate]:
    """Extract the notebook members of one submitted .zip into ``dest``, safely and within limits."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError, ValueError):
        notes.append(f"could not open {shown}: it is not a valid zip archive; its contents were not graded")
        return []
    found: list[_Candidate] = []
    refused: list[str] = []
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            notes.append(f"{shown} has {len(infos)} entries (more than {MAX_ZIP_MEMBERS}); it was not opened")
            return []
        budget = MAX_ZIP_BYTES
        root = dest.resolve()
        for info in infos:
            if info.is_dir():
                continue
            problem = _member_problem(info)
            if problem:
                refused.append(f"{info.filename!r} ({problem})")
                continue
            parts = [p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".")]
            if not parts or any(p in _JUNK_DIRS for p in parts[:-1]) or _is_junk(parts[-1]):
                continue
            stem = notebook_stem(parts[-1], notebooks)
            if stem is None:
                suffix = " (an archive inside an archive is not opened)" if parts[-1].lower().endswith(".zip") else ""
                extras.append(f"{shown}:{info.filename}{suffix}")
                continue
            if info.file_size > budget:
                refused.append(f"{info.filename!r} (over the {MAX_ZIP_BYTES // (1024 * 1024)} MB extraction limit)")
                continue
            target = dest.joinpath(*parts)
            if not _inside(target.resolve(), root) or target.exists():
                refused.append(f"{info.filename!r} (unsafe or duplicate path)")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                budget -= _copy_member(archive, info, target, min(budget, info.file_size))
            except _TooLarge:
                target.unlink(missing_ok=True)
                refused.append(f"{info.filename!r} (larger than its archive entry claims)")
                continue
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, OSError, EOFError) as err:
                target.unlink(missing_ok=True)
                refused.append(f"{info.filename!r} (could not be extracted: {type(err).__name__})")
                continue
            mtime = _zip_mtime(info)
            os.utime(target, (mtime, mtime))
            found.append(_Candidate(stem, target, f"{shown}:{info.filename}", parts[-1], mtime))
    if refused:
        notes.append(f"refused from {shown}: {_listing(refused)}")
    return found


def _choose(stem: str, candidates: list[_Candidate], notes: list[str]) -> _Candidate:
    """The newest candidate (ties: last by name), with a note when there was a choice or a rename."""
    ordered = sorted(candidates, key=lambda c: (c.mtime, c.name, c.shown))
    chosen = ordered[-1]
    if len(ordered) > 1:
        tie = sum(1 for c in ordered if c.mtime == chosen.mtime) > 1
        why = "same modification time, so the last by name" if tie else "the most recently modified"
        ignored = ", ".join(c.shown for c in reversed(ordered[:-1]))
        notes.append(f"{stem}: {len(ordered)} files found; graded {chosen.shown} ({why}); ignored {ignored}")
    elif chosen.shown != f"{stem}.ipynb":
        notes.append(f"{stem}: graded {chosen.shown}")
    return chosen


def collect(folder: Path, workdir: Path, notebooks: Collection[str]) -> Intake:
    """Map each expected notebook stem (``notebooks``, from grader.json) to one file of the submission in ``folder``;
    archives go to ``workdir``."""
    notebooks = tuple(notebooks)
    intake = Intake()
    folder = Path(folder)
    if not folder.is_dir():
        intake.notes.append("the submission is empty: no files were uploaded")
        return intake
    root = folder.resolve()
    work = Path(workdir).resolve()
    candidates: list[_Candidate] = []
    archives: list[tuple[Path, str]] = []
    extras: list[str] = []
    refused: list[str] = []
    any_file = False

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            sub = here / d
            if sub.is_symlink():
                any_file = True
                refused.append(f"{sub.relative_to(root).as_posix()}/ (symbolic link to a folder)")
            elif d not in _JUNK_DIRS and not d.startswith(".") and not _inside(sub, work):
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            shown = path.relative_to(root).as_posix()
            any_file = True
            if _is_junk(name):
                continue
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a symlink loop
                    target = None
                if target is None or not _inside(target, root) or not target.is_file():
                    refused.append(f"{shown} (symbolic link out of the submission)")
                    continue
                path = target
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                refused.append(f"{shown} (not a regular file)")
                continue
            stem = notebook_stem(name, notebooks)
            if stem is not None:
                if all(c.path != path for c in candidates):  # a link inside the submission to a file already seen
                    candidates.append(_Candidate(stem, path, shown, name, info.st_mtime))
            elif name.lower().endswith(".zip"):
                archives.append((path, shown))
            else:
                extras.append(shown)

    if not any_file:
        intake.notes.append("the submission is empty: no files were uploaded")
        return intake
    for index, (path, shown) in enumerate(archives):
        label = re.sub(r"[^\w.-]", "_", path.stem)[:60] or "archive"
        (work / "unzipped").mkdir(parents=True, exist_ok=True)
        dest = Path(tempfile.mkdtemp(prefix=f"{index}_{label}_", dir=work / "unzipped"))
        candidates += _extract_notebooks(path, shown, dest, intake.notes, extras, notebooks)
    if refused:
        intake.notes.append(f"refused: {_listing(refused)}")

    for stem in notebooks:
        mine = [c for c in candidates if c.stem == stem]
        if mine:
            intake.notebooks[stem] = _choose(stem, mine, intake.notes).path
    missing = [f"{s}.ipynb" for s in notebooks if s not in intake.notebooks]
    if missing:
        intake.notes.append(f"not found in the submission: {', '.join(missing)}")
    if extras:
        intake.notes.append(f"ignored (not assignment notebooks): {_listing(extras)}")
    return intake


def _read_capped(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; opened non-blocking, checked before reading."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 2**20} MB")
    return data


def check_notebook(path: Path) -> str | None:
    """Why ``path`` cannot be graded as an nbformat 4 notebook, in words a student can act on; None if fine."""
    try:
        raw = _read_capped(Path(path), MAX_NOTEBOOK_BYTES)
    except OSError as err:
        return f"cannot read the file: {err.strerror or err}"
    except ValueError as err:
        if str(err).startswith("larger than"):
            return (
                f"not graded: the file is {err}, the autograder's limit for one notebook; clear its outputs "
                "(Edit → Clear all outputs), save, download and submit it again (every cell is re-run here anyway)"
            )
        return f"not a notebook: the file is {err}"
    if not raw.strip():
        return "not a notebook: the file is empty"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not a notebook: the file is not UTF-8 text"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return f"not a notebook: invalid JSON at line {err.lineno}"
    except RecursionError:
        return "not a notebook: its JSON is nested too deeply (thousands of brackets inside each other)"
    if not isinstance(data, dict):
        return "not a notebook: the JSON is not an object"
    version = data.get("nbformat")
    if not isinstance(version, int) or isinstance(version, bool):
        return "not a notebook: no nbformat version in the file"
    if version < 4:
        return f"nbformat {version} notebook: open and re-save it in Jupyter/Colab"
    if version > 4:
        return f"nbformat {version} notebook: this grader reads nbformat 4; save it from Jupyter/Colab"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
            nbformat.validate(notebook)
        except nbformat.ValidationError as err:
            where = "/".join(str(p) for p in getattr(err, "absolute_path", []))
            return f"not a valid notebook: {str(err.message)[:300]}" + (f" (at {where[:200]})" if where else "")
        except RecursionError:
            return "not a valid notebook: it is nested too deeply to be read"
        except Exception as err:  # nbformat's readers raise assorted errors on malformed input
            return f"not a valid notebook: {type(err).__name__}: {str(err)[:200]}"
    if not notebook.get("cells"):
        return "notebook has no cells"
    return None
