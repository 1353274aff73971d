"""Build the student notebooks: ``solutions/*.ipynb`` → nbgrader ``generate_assignment`` → ``assignment5/``.

The source notebooks carry two tokens that come from one configured repository
(``[tool.a5kit.release]`` in pyproject.toml, or A5KIT_REPOSITORY / A5KIT_BRANCH):
``@@COLAB_BADGE@@`` (the "Open in Colab" badge) and ``@@A5KIT_SPEC@@`` (what the setup cell
pip-installs in Colab). The build refuses to run without a repository rather than emit a
placeholder. Run with ``make release``; a test regenerates and compares with the committed files.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ASSIGNMENT = "assignment5"
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


class ReleaseError(RuntimeError):
    """The release cannot be built as configured."""


@dataclass(frozen=True)
class ReleaseConfig:
    repository: str  # https://github.com/OWNER/REPO
    branch: str

    @property
    def github_path(self) -> str:
        match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", self.repository)
        if not match:
            raise ReleaseError(f"repository must be https://github.com/OWNER/REPO for Colab links, got {self.repository!r}")
        return match.group(1)

    def colab_badge(self, notebook: str) -> str:
        return BADGE.format(url=f"https://colab.research.google.com/github/{self.github_path}/blob/{self.branch}/{ASSIGNMENT}/{notebook}")

    @property
    def install_spec(self) -> str:
        return f"a5kit[student] @ git+https://github.com/{self.github_path}@{self.branch}"


def read_config(root: Path) -> ReleaseConfig:
    """The repository and branch the release links to; refuses a missing or empty repository."""
    table = tomllib.loads((root / "pyproject.toml").read_text()).get("tool", {}).get("a5kit", {}).get("release", {})
    repository = os.environ.get("A5KIT_REPOSITORY") or table.get("repository", "")
    branch = os.environ.get("A5KIT_BRANCH") or table.get("branch", "main")
    if not repository.strip():
        raise ReleaseError(
            "no repository configured: set [tool.a5kit.release] repository = 'https://github.com/OWNER/REPO' "
            "in pyproject.toml (or A5KIT_REPOSITORY); the Colab badge and setup cell are made from it"
        )
    config = ReleaseConfig(repository.strip(), branch.strip())
    config.github_path  # validates
    return config


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
        cmd = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force", "--no-db",
               f"--CourseDirectory.root={course}", "--log-level=WARN"]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.release", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--out", type=Path, default=None, help=f"default: ROOT/{ASSIGNMENT}")
    args = parser.parse_args(argv)
    try:
        written = build(args.root, args.out or args.root / ASSIGNMENT)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
