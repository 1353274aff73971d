"""The student release: ``make release`` → ``assignment5/`` and the publishable tree ``dist/student/``.

One source, three generated outputs:

1. ``src/a5kit/public_checks/public_expected.npz``: what the public checks compare with, computed by the
   instructor's reference implementations (``autograder/tests/reference.py``) on the checks' fixed
   inputs, so the student package holds values, never reference code;
2. ``assignment5/*.ipynb``: ``solutions/*.ipynb`` through nbgrader ``generate_assignment``;
3. ``dist/student/``: what the instructor pushes to the *public* student repository: the notebooks,
   a short README, the student package (``src/a5kit`` minus :data:`INSTRUCTOR_ONLY`), its
   ``pyproject.toml`` and licence. No solutions, hidden tests, reference code or hidden seed.

The notebooks' ``@@COLAB_BADGE@@`` and ``@@A5KIT_SPEC@@`` point at ``[tool.a5kit.release]``
``repository`` and ``ref`` in pyproject.toml (or A5KIT_REPOSITORY / A5KIT_REF): a public GitHub
repository and an immutable ref (a tag or a full commit hash), so a push during the assignment
cannot change the checks under the students. The placeholder, a missing value and a branch are
refused; the committed ``assignment5/`` uses :data:`EXAMPLE_REPOSITORY`, which the build reports.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomllib

from a5kit import config as config_mod
from a5kit import console
from a5kit.console import say

ASSIGNMENT = "assignment5"
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"
PLACEHOLDER_REPOSITORIES = ("https://github.com/OWNER/REPO", "https://github.com/a5kit/assignment5")
# What the committed assignment5/ is generated with: clearly an example, reported as such.
EXAMPLE_REPOSITORY = "https://github.com/example-course/assignment5-student-EXAMPLE"
# Modules the student package leaves out (paths inside a5kit/): build and grading tools of the instructor
# (none computes an answer, but students have no use for them: they name the private repository's layout,
# and `make grade`'s written pages read the answer keys of solutions/).
INSTRUCTOR_ONLY = (
    "autograder.py",
    "console.py",
    "release.py",
    "demo.py",
    "bench.py",
    "rehearse.py",
    "answers.py",
    "grader/batch.py",
    "grader/class_report.py",
    "grader/written.py",
    "grader/written_pages.py",
    "grader/written_scores.py",
)
PUBLIC_EXPECTED = Path("src") / "a5kit" / "public_checks" / "public_expected.npz"
WRITTEN_QUESTIONS = Path("src") / "a5kit" / "written_questions.json"
WRITTEN_TEMPLATE = Path("dist") / "written-template.pdf"  # the Gradescope PDF assignment is made from it


class ReleaseError(RuntimeError):
    """The release cannot be built as configured."""


@dataclass(frozen=True)
class ReleaseConfig:
    repository: str  # https://github.com/OWNER/REPO, the public student repository
    ref: str  # a tag or a full commit hash of it

    @property
    def github_path(self) -> str:
        match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", self.repository)
        if not match:
            raise ReleaseError(
                f"repository must be https://github.com/OWNER/REPO for Colab links, got {self.repository!r}"
            )
        return match.group(1)

    @property
    def is_example(self) -> bool:
        """True for the example repository the committed notebooks use (not publishable)."""
        return self.repository.rstrip("/") == EXAMPLE_REPOSITORY

    def colab_badge(self, notebook: str) -> str:
        return BADGE.format(
            url=f"https://colab.research.google.com/github/{self.github_path}/blob/{self.ref}/{ASSIGNMENT}/{notebook}"
        )

    @property
    def install_spec(self) -> str:
        return f"a5kit[student] @ git+https://github.com/{self.github_path}@{self.ref}"


def is_pinned(ref: str) -> bool:
    """A full commit hash or a version tag (v1.2, 2026.1, v1.0-fall): refs that do not move."""
    return bool(re.fullmatch(r"[0-9a-f]{40}", ref) or re.fullmatch(r"v?\d+(\.\d+)*([-+][\w.-]+)?", ref))


def read_config(root: Path) -> ReleaseConfig:
    """The public repository and pinned ref the release links to; refuses a missing, placeholder or moving value."""
    table = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {}).get("a5kit", {}).get("release", {})
    env_repository, env_ref = config_mod.release_target()
    repository = (env_repository or table.get("repository", "")).strip()
    ref = (env_ref or table.get("ref", "")).strip()
    where = "[tool.a5kit.release] in pyproject.toml (or A5KIT_REPOSITORY / A5KIT_REF)"
    if not repository or repository.rstrip("/") in PLACEHOLDER_REPOSITORIES:
        raise ReleaseError(
            f"no student repository configured: set repository = 'https://github.com/OWNER/REPO' (your public "
            f"student repository) in {where}"
        )
    if not ref:
        raise ReleaseError(
            f"no ref configured: set ref = a tag such as 'v1.0' (or a full commit hash) of the student repository in {where}"
        )
    if not is_pinned(ref):
        raise ReleaseError(
            f"ref {ref!r} can move (a branch?): set ref to a tag such as 'v1.0' or a full commit hash in {where}"
        )
    config = ReleaseConfig(repository, ref)
    _ = config.github_path  # reading it validates the repository address
    return config


def refuse_example(config: ReleaseConfig, example: bool, what: str) -> None:
    """Stop a build meant for publishing that still links to the EXAMPLE repository (``--example`` opts in)."""
    if config.is_example and not example:
        raise ReleaseError(
            f"{what} refused: [tool.a5kit.release] still names the EXAMPLE repository {EXAMPLE_REPOSITORY}, "
            "so students' setup cells would fail; set repository and ref (a full commit hash is safest) "
            "to your public student repository in pyproject.toml (`--example`, or EXAMPLE=1 for make, "
            "builds with it for a demo or a test)"
        )


def fill_tokens(text: str, config: ReleaseConfig, notebook: str) -> str:
    return text.replace("@@COLAB_BADGE@@", config.colab_badge(notebook)).replace("@@A5KIT_SPEC@@", config.install_spec)


def build(root: Path, out: Path) -> list[Path]:
    """Generate the student notebooks of every ``solutions/*.ipynb`` into ``out``."""
    config = read_config(root)
    sources = sorted((root / "solutions").glob("*.ipynb"))
    if not sources:
        raise ReleaseError(f"no source notebooks in {root / 'solutions'}")
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        source_dir = course / "source" / ASSIGNMENT
        source_dir.mkdir(parents=True)
        for src in sources:
            (source_dir / src.name).write_text(fill_tokens(src.read_text(), config, src.name))
        cmd = [
            sys.executable,
            "-m",
            "nbgrader",
            "generate_assignment",
            ASSIGNMENT,
            "--force",
            "--no-db",
            f"--CourseDirectory.root={course}",
            "--log-level=WARN",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=course)
        if result.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment failed:\n{result.stdout}\n{result.stderr}")
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for src in sources:
            generated = course / "release" / ASSIGNMENT / src.name
            target = out / src.name
            shutil.copyfile(generated, target)
            written.append(target)
    return written


# -- the public checks' expected values ---------------------------------------------------------


def public_expected(root: Path) -> dict:
    """The values the public checks compare with, computed now by the instructor's reference code."""
    from .checking.core import reference_module
    from .public_checks import stored

    stored._all.cache_clear()
    from .checking.core import load_cases

    hidden_dir = root / "autograder" / "tests"
    reference = reference_module(hidden_dir)
    if reference is None:
        raise ReleaseError(f"no reference implementations at {hidden_dir / 'reference.py'}")
    values = reference.public_expected()
    for path in sorted((root / "src" / "a5kit" / "public_checks").glob("q*.py")):  # what grade() tells a student
        points = sum(c.points for c in load_cases(path.stem, hidden_dir) if c.hidden)
        values[f"{path.stem}.points.hidden"] = np.asarray(points, dtype=np.float64)
    return values


def write_public_expected(root: Path) -> Path:
    """Regenerate ``src/a5kit/public_checks/public_expected.npz`` (the same values give the same bytes)."""
    from .public_checks import stored

    target = root / PUBLIC_EXPECTED
    stored.write(public_expected(root), target)
    stored._all.cache_clear()
    return target


def written_questions(root: Path) -> list[dict]:
    """The written questions of ``solutions/`` in page order (id, notebook, points, task text): the student PDF's pages."""
    from .grader.written import questions

    try:
        return [
            {"id": q.id, "notebook": q.notebook, "points": q.points, "text": q.text}
            for q in questions(root / "solutions")
        ]
    except FileNotFoundError as err:
        raise ReleaseError(str(err)) from None


def write_written_questions(root: Path) -> Path:
    """Regenerate ``src/a5kit/written_questions.json`` (what a5kit.written_pdf pages from)."""
    target = root / WRITTEN_QUESTIONS
    target.write_text(json.dumps(written_questions(root), indent=1, ensure_ascii=False) + "\n")
    return target


# -- the student distribution ---------------------------------------------------------------------

STUDENT_README = """\
# Assignment 5: Transformers and Enformer

Four notebooks, each with an **Open in Colab** badge at its top:

| notebook | questions |
|---|---|
| `assignment5/01_self_attention.ipynb` | self-attention from scratch vs GPT-2 |
| `assignment5/02_dna_cnn.ipynb` | one-hot DNA, PCA, a CNN on transcription-factor motifs |
| `assignment5/03_enformer.ipynb` | Enformer: tracks, first-layer filters, a variant's effect |
| `assignment5/04_finetune.ipynb` | fine-tuning Enformer with a new head |

1. Open a notebook in Colab with its badge and run the setup cell (it installs the helper package
   `a5kit` from this repository, at the tagged version the course uses).
2. Work through the questions. After each function, a `check("q…")` cell runs the public checks and
   says what is wrong; a `grade("q…")` cell shows your public-check score. More points come from
   hidden tests after you submit, and written answers are graded by hand.
3. Submit: download each notebook (File → Download → .ipynb) and upload **all four together in one
   Gradescope submission** (or one zip of them): a new submission replaces the previous one.

Locally: `pip install "a5kit[student] @ git+{url}@{ref}"` and open the notebooks in Jupyter.
"""

MIT_LICENSE = """\
MIT License

Copyright (c) the Assignment 5 course staff

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _toml(value: object) -> str:
    """A TOML value for strings, lists of strings and tables of those (JSON's syntax is TOML's here)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return json.dumps(value, ensure_ascii=False)


def student_pyproject(root: Path) -> str:
    """The student package's pyproject.toml: the instructor's project table, with only the extras students use."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    meta = project["project"]
    extras = {
        name: meta["optional-dependencies"][name]
        for name in ("student", "tiny")
        if name in meta.get("optional-dependencies", {})
    }
    package_data = project.get("tool", {}).get("setuptools", {}).get("package-data", {})
    lines = [
        "# Generated by `make release` from the instructor's pyproject.toml: do not edit.",
        "[build-system]",
        f"requires = {_toml(project['build-system']['requires'])}",
        f"build-backend = {_toml(project['build-system']['build-backend'])}",
        "",
        "[project]",
        *(
            f"{key} = {_toml(meta[key])}"
            for key in ("name", "version", "description", "requires-python", "license", "dependencies")
            if key in meta
        ),
        'readme = "README.md"',
        "",
        "[project.optional-dependencies]",
        *(f"{name} = {_toml(deps)}" for name, deps in extras.items()),
        "",
        "[tool.setuptools.packages.find]",
        'where = ["src"]',
        "",
        "[tool.setuptools.package-data]",
        *(f"{_toml(package)} = {_toml(patterns)}" for package, patterns in package_data.items()),
    ]
    return "\n".join(lines) + "\n"


def student_package_files(root: Path) -> list[Path]:
    """The files of ``src/a5kit`` the student package ships (paths relative to ``src``): all but INSTRUCTOR_ONLY and caches."""
    src = root / "src"
    files = []
    for path in sorted((src / "a5kit").rglob("*")):
        relative = path.relative_to(src)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if relative.relative_to("a5kit").as_posix() in INSTRUCTOR_ONLY:
            continue
        files.append(relative)
    return files


def build_student(root: Path, out: Path, notebooks: Path | None = None) -> Path:
    """Write the publishable student tree to ``out`` (emptied first): notebooks, README, LICENSE, pyproject, package."""
    config = read_config(root)
    if out.exists():
        shutil.rmtree(out)
    (out / ASSIGNMENT).mkdir(parents=True)
    if notebooks is None:
        build(root, out / ASSIGNMENT)
    else:
        for path in sorted(notebooks.glob("*.ipynb")):
            shutil.copyfile(path, out / ASSIGNMENT / path.name)
    for relative in student_package_files(root):
        (out / "src" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / "src" / relative, out / "src" / relative)
        say.debug(f"student tree: src/{relative}")
    (out / "pyproject.toml").write_text(student_pyproject(root))
    (out / "README.md").write_text(
        STUDENT_README.format(url=f"https://github.com/{config.github_path}", ref=config.ref)
    )
    (out / "LICENSE").write_text(MIT_LICENSE)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.release", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--out", type=Path, default=None, help=f"student notebooks (default: ROOT/{ASSIGNMENT})")
    parser.add_argument(
        "--student-out", type=Path, default=None, help="the publishable student tree (default: ROOT/dist/student)"
    )
    parser.add_argument(
        "--example", action="store_true", help="allow the EXAMPLE repository (the committed assignment5/, demos, tests)"
    )
    console.add_switch(parser)
    args = parser.parse_args(argv)
    console.configure(args)
    try:
        config = read_config(args.root)
        refuse_example(config, args.example, "the release")
        say.info(f"wrote {write_public_expected(args.root)}")
        say.info(f"wrote {write_written_questions(args.root)}")
        notebooks = args.out or args.root / ASSIGNMENT
        for path in build(args.root, notebooks):
            say.info(f"wrote {path}")
        student = build_student(args.root, args.student_out or args.root / "dist" / "student", notebooks)
    except ReleaseError as err:
        say.error(f"release: {err}")
        return 1
    say.info(f"wrote {student}: push it to {config.repository} and tag it {config.ref}")
    from .written_pdf import template

    say.info(
        f"wrote {template(args.root / WRITTEN_TEMPLATE)}: the template of the Gradescope PDF assignment for the written answers"
    )
    if config.is_example:
        say.warning(f"release: built with the EXAMPLE repository {EXAMPLE_REPOSITORY} (--example): not for publishing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
