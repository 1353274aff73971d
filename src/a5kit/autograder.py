"""Build the Gradescope autograder: ``make autograder`` → ``dist/autograder.zip``.

    python -m a5kit.autograder [--root .] [--cache data/cache] [--out dist]

The archive holds exactly: ``setup.sh`` and ``run_autograder`` at its root (Gradescope's
contract), the a5kit wheel, ``requirements.txt`` (the grader pins), ``grader.json`` (questions
per notebook, limits, student user), ``tests/`` (hidden test modules), ``expected/`` (values the
hidden tests need, computed here so the grader needs neither torch nor pyjaspar) and ``cache/``
(model outputs for replay). The staging folder ``dist/autograder/`` is what ``make grade`` uses.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from . import config, console, motifs
from .cache import Cache
from .checking.core import hidden_module
from .console import say
from .grader import settings as grader_settings
from .grader.precomputed import precompute_module
from .grader.settings import STUDENT_USER, Limits

SCRIPTS = ("setup.sh", "run_autograder")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip timestamps: the same inputs give the same archive


class BuildError(RuntimeError):
    """The autograder cannot be built from what is in the repository."""


def _wheel(root: Path, out: Path) -> Path:
    with_tmp = out / ".wheel"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(with_tmp),
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BuildError(f"building the a5kit wheel failed:\n{result.stderr[-2000:]}")
    (wheel,) = with_tmp.glob("a5kit-*.whl")
    target = out / wheel.name
    shutil.move(wheel, target)
    shutil.rmtree(with_tmp)
    return target


def _copy_cache(cache: Path, out: Path) -> Cache:
    source = Cache(cache)
    if not source.entries:
        raise BuildError(
            f"the cache {cache} is empty: run `make cache` (real models) or `make cache TINY=1` (offline demo) first"
        )
    out.mkdir(parents=True)
    for entry in source.entries.values():
        shutil.copyfile(cache / entry["file"], out / entry["file"])
        (out / entry["file"]).chmod(0o644)
    shutil.copyfile(source.manifest_path, out / "manifest.json")
    (out / "manifest.json").chmod(0o644)
    return source


def hidden_seed(given: int | None = None) -> tuple[int, str]:
    """The hidden motif seed and where it came from: ``given``, else A5KIT_HIDDEN_SEED, else drawn at random now."""
    if given is not None:
        return given, "given"
    from_env = config.hidden_seed()
    if from_env is not None:
        return from_env, f"from {motifs.HIDDEN_SEED_ENV}"
    return secrets.randbelow(2**31), "drawn at random"


def _precompute(sources: list[Path], tests: Path, out: Path, seed: int) -> None:
    """Every @precomputed value of the hidden modules into ``out``; the hidden seed is passed to the functions that take it."""
    for path in sources:
        module = hidden_module(path.stem, tests)
        if module is not None:
            precompute_module(module, out, hidden_seed=seed)


def stage(root: Path, cache: Path, staging: Path, seed: int | None = None) -> dict[str, object]:
    """Write the autograder's files into ``staging`` (emptied first); returns grader.json's content.

    The hidden motif seed (``seed``, else A5KIT_HIDDEN_SEED, else drawn now) ends up only in the
    precomputed hidden test set, ``expected/q3c.hidden_test_set.npz``.
    """
    settings = grader_settings_of(root)  # first: a question whose points or modules do not add up stops the build here
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for script in SCRIPTS:
        shutil.copyfile(root / "autograder" / script, staging / script)
        (staging / script).chmod(0o755)
    shutil.copyfile(root / "requirements" / "grader.lock", staging / "requirements.txt")
    _wheel(root, staging)
    tests = staging / "tests"
    tests.mkdir()
    sources = sorted((root / "autograder" / "tests").glob("q*.py"))
    for path in [*sources, root / "autograder" / "tests" / "reference.py"]:
        shutil.copyfile(path, tests / path.name)
    (staging / "expected").mkdir()
    drawn, origin = hidden_seed(seed)
    _precompute(sources, root / "autograder" / "tests", staging / "expected", drawn)
    source_cache = _copy_cache(cache, staging / "cache")
    settings = dataclasses.replace(
        settings, cache=source_cache.describe().split(": ", 1)[1], tiny_cache=source_cache.is_tiny, hidden_seed=origin
    )  # how it was chosen; the value itself is only in expected/
    settings.write(staging / "grader.json")
    return settings.to_dict()


def grader_settings_of(root: Path) -> grader_settings.Settings:
    """grader.json's settings from ``root``'s sources: every notebook in solutions/, its nbgrader grade cells with tests,
    their points checked against the public (a5kit/public_checks) and hidden (autograder/tests) test modules."""
    try:
        return grader_settings.from_sources(
            grader_settings.source_notebooks(root), root / "autograder" / "tests", limits=Limits(), user=STUDENT_USER
        )
    except grader_settings.SettingsError as err:
        raise BuildError(str(err)) from None


def archive(staging: Path, target: Path) -> Path:
    """Zip ``staging`` with fixed timestamps and the scripts executable."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in staging.rglob("*") if p.is_file()):
            name = path.relative_to(staging).as_posix()
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = ((0o755 if name in SCRIPTS else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_STORED if name.endswith((".npz", ".whl")) else zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
            say.debug(f"archive: {name} ({path.stat().st_size / 2**10:.0f} kB)")
    tmp.replace(target)
    return target


def build(root: Path, cache: Path, out: Path, seed: int | None = None) -> Path:
    """Stage and zip the autograder; returns the archive's path."""
    staging = out / "autograder"
    stage(root, cache, staging, seed)
    return archive(staging, out / "autograder.zip")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--cache", type=Path, default=None, help="model-output cache (default ROOT/data/cache)")
    parser.add_argument("--out", type=Path, default=None, help="default ROOT/dist")
    parser.add_argument(
        "--hidden-seed",
        type=int,
        default=None,
        help=f"seed of the hidden motif test set (default: {motifs.HIDDEN_SEED_ENV}, else drawn at random)",
    )
    parser.add_argument("--example", action="store_true", help="allow the EXAMPLE student repository (demos and tests)")
    console.add_switch(parser)
    args = parser.parse_args(argv)
    console.configure(args)
    start = time.perf_counter()
    from . import release  # the student notebooks this archive grades link to that repository

    try:
        release.refuse_example(release.read_config(args.root), args.example, "the autograder build")
    except release.ReleaseError as err:
        say.error(f"autograder: {err}")
        return 1
    try:
        target = build(
            args.root, args.cache or args.root / "data" / "cache", args.out or args.root / "dist", args.hidden_seed
        )
    except BuildError as err:
        say.error(f"autograder: {err}")
        return 1
    settings = grader_settings.load(target.parent / "autograder" / "grader.json")
    say.info(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MB) in {time.perf_counter() - start:.1f} s")
    say.info(
        f"{len(settings.notebooks)} notebooks, {len(settings.question_ids)} autograded questions, {settings.total_points:g} points"
    )
    say.info(f"cache: {settings.cache}")
    say.info(f"hidden motif seed: {settings.hidden_seed}; kept only in expected/q3c.hidden_test_set.npz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
