"""Shared fixtures: every test runs with its own download folder and cache, and no mirror
unless it asks for one, so nothing leaks between tests or from the developer's machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# No hub at run time: set before any test module imports huggingface_hub, which reads it once at import
# (a test that offers the kit's private model runners as answers would otherwise retry downloads for minutes).
os.environ["HF_HUB_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("A5KIT_TEST_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUN_DIR_ENV = "A5KIT_TEST_RUN_DIR"  # under pytest-xdist: a folder all workers of this run share
_RUN_DIR = pytest.StashKey[Path]()
_BUILD_DIR = pytest.StashKey[Path]()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test starts from the same A5KIT_* settings and leaves os.environ as it found it
    (code under test, e.g. ``colab_setup.install``, may set variables for the session)."""
    saved = dict(os.environ)
    for var in [v for v in os.environ if v.startswith("A5KIT_") and not v.startswith("A5KIT_TEST_")]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("A5KIT_DATA_DIR", str(tmp_path / "downloads"))
    monkeypatch.setenv("A5KIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("A5KIT_LIVE_MEMO", str(tmp_path / "live-memo"))  # never the real ~/.cache/a5kit/live
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def tiny(monkeypatch):
    """Tiny random models and synthetic sequence."""
    monkeypatch.setenv("A5KIT_MODE", "tiny")


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def shared_mirror(monkeypatch) -> Path:
    """The real reference files of ../shared/data as the download mirror."""
    if not (SHARED_DATA / "targets_human.txt").exists():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    monkeypatch.setenv("A5KIT_DATA_MIRROR", str(SHARED_DATA))
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_tmp():
    """A temporary folder every user can read: as root, graded notebooks run as an unprivileged user."""
    folder = Path(tempfile.mkdtemp(prefix="a5kit-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cache(shared_tmp) -> Path:
    """Every notebook input recorded by the tiny models (what `make cache TINY=1` writes).

    Built once per run: under pytest-xdist the workers share one, made by whichever asks first."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        return _record_tiny_cache(shared_tmp / "tiny-cache", shared_tmp / "downloads")
    from filelock import FileLock

    shared = Path(run_dir)
    with FileLock(str(shared / "tiny-cache.lock")):
        folder = shared / "tiny-cache"
        if not (folder / "manifest.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
            _record_tiny_cache(folder, shared / "downloads")
    return folder


@pytest.fixture
def public_cases_replay_alike(request):
    """Every grade() of tests/notebook_checks.py also replays the public cases from the tiny cache and
    demands the same points (the test modules of the notebooks' checks use it for all their tests).
    The cache is asked for only when a grade() needs it: most of notebook 2's tests never do, and
    need not wait while another worker records it."""
    import notebook_checks

    notebook_checks.REPLAY_CACHE[:] = [lambda: request.getfixturevalue("tiny_cache")]
    yield
    notebook_checks.REPLAY_CACHE.clear()


def _record_tiny_cache(folder: Path, downloads: Path) -> Path:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(HF_HUB_OFFLINE="1", A5KIT_DATA_DIR=str(downloads))
    if (SHARED_DATA / "targets_human.txt").exists():  # the track table of notebook 3, as `make cache` gets it
        env["A5KIT_DATA_MIRROR"] = str(SHARED_DATA)
    subprocess.run(
        [sys.executable, "-m", "a5kit", "cache", "--out", str(folder), "--tiny"],
        env=env,
        check=True,
        capture_output=True,
    )
    return folder


# -- pytest-xdist (`make test` runs the suite on every core) ----------------------------------------
#
# `--dist loadfile`: a test file runs on one worker, so its module fixtures are built once and its
# tests never run beside each other. Each worker is a pytest session of its own: session fixtures
# (shared_tmp, the student user of tests/student_user.py) are per worker, so no worker's grader
# kills another's processes. The tiny cache is built once for all workers, in a run folder the
# controller makes and removes. (`--dist loadgroup` cannot be used: xdist 3.8 marks a group by
# rewriting Node._nodeid, which pytest 9 no longer reads, so groups are silently split.)


def _is_xdist_controller(config) -> bool:
    return (
        not hasattr(config, "workerinput")
        and bool(getattr(config.option, "numprocesses", None))
        and getattr(config.option, "dist", "no") != "no"
    )


def pytest_configure(config):
    if _is_xdist_controller(config):
        run_dir = Path(tempfile.mkdtemp(prefix="a5kit-test-run-"))
        run_dir.chmod(0o755)  # as root the graded notebooks read the shared cache as an unprivileged user
        os.environ[RUN_DIR_ENV] = str(run_dir)  # the workers inherit it
        config.stash[_RUN_DIR] = run_dir
    elif hasattr(config, "workerinput"):
        # Several tests build the a5kit wheel from the repository (autograder builds, the demo,
        # `pip wheel`, `pip install .`); setuptools builds in the tree (build/, src/a5kit.egg-info)
        # and removes build/bdist.* when done, so two workers building at once break each other.
        # Each worker's builds (and their subprocesses') go to a folder of its own instead.
        builds = Path(tempfile.mkdtemp(prefix=f"a5kit-test-{config.workerinput['workerid']}-build-"))
        (builds / "setup.cfg").write_text(
            f"[build]\nbuild_base = {builds / 'build'}\n[egg_info]\negg_base = {builds}\n"
        )
        os.environ["DIST_EXTRA_CONFIG"] = str(builds / "setup.cfg")
        config.stash[_BUILD_DIR] = builds


def pytest_unconfigure(config):
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        shutil.rmtree(run_dir, ignore_errors=True)
        os.environ.pop(RUN_DIR_ENV, None)
    builds = config.stash.get(_BUILD_DIR, None)
    if builds is not None:
        shutil.rmtree(builds, ignore_errors=True)
        os.environ.pop("DIST_EXTRA_CONFIG", None)
