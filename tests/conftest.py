"""Shared fixtures: every test runs with its own download folder and cache, and no mirror
unless it asks for one, so nothing leaks between tests or from the developer's machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("A5KIT_TEST_SHARED_DATA", ROOT.parent / "shared" / "data"))


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
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="a5kit-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_cache(shared_tmp) -> Path:
    """Every notebook input recorded by the tiny models (what `make cache TINY=1` writes)."""
    import subprocess
    import sys

    folder = shared_tmp / "tiny-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(HF_HUB_OFFLINE="1", A5KIT_DATA_DIR=str(shared_tmp / "downloads"))
    if (SHARED_DATA / "targets_human.txt").exists():  # the track table of notebook 3, as `make cache` gets it
        env["A5KIT_DATA_MIRROR"] = str(SHARED_DATA)
    subprocess.run([sys.executable, "-m", "a5kit", "cache", "--out", str(folder), "--tiny"], env=env, check=True, capture_output=True)
    return folder
