"""A stand-in for Gradescope's default image (Ubuntu 22.04, Python 3.10), built from this machine.

How close it is: python3 and python3.10 are a real CPython 3.10 that every user can run (as
/usr/bin/python3.10 is there); PATH holds the basic tools, useradd and nothing else (no apt-get,
no other Python); pip sees the package registry alone (no machine configuration, so no local
indexes and no local CPU torch wheel); setup.sh runs as root and the notebooks as the user it
creates. What differs: the distribution's libraries are Debian 12's, not Ubuntu 22.04's, and no
container caps memory or CPU (tests/test_memory.py and `make bench` cover those).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from conftest import ROOT

# What setup.sh itself calls (tests/test_install.py gives it only these), then what the image's
# user management and run_autograder add.
SETUP_TOOLS = (
    *("bash", "env", "grep", "cut", "basename", "dirname", "ls", "head", "sed"),
    *("rm", "chmod", "id", "cat", "mkdir", "tr", "uname", "sh"),
)
TOOLS = (*SETUP_TOOLS, "useradd", "userdel", "sort", "wc", "tail", "date", "sleep", "kill", "ps", "mktemp")


def _lock():
    import importlib.util

    spec = importlib.util.spec_from_file_location("a5kit_lock_script", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def python_310() -> str | None:
    """The real executable of a CPython 3.10 here (a pyenv shim resolved to its binary), or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for candidate in [shutil.which("python3.10"), *sorted(pyenv.glob("versions/3.10.*/bin/python3.10"))]:
        if not candidate:
            continue
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print(sys.executable, sys.version_info[:2] == (3, 10))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.split()[-1:] == ["True"]:
            return probe.stdout.split()[0]
    return None


def public_python(executable: str, dest: Path) -> Path:
    """A copy of ``executable``'s installation in ``dest`` that every user can run; returns its python.

    pyenv's Pythons live under /root (mode 700) and find libpython through an absolute RUNPATH
    there; the copy's RUNPATH is rewritten in place to ``$ORIGIN/../lib`` (same bytes, NUL-padded).
    """
    prefix = Path(executable).resolve().parents[1]
    if not dest.exists():
        shutil.copytree(prefix, dest, symlinks=True)
    binary = dest / "bin" / Path(executable).resolve().name
    old = str(prefix / "lib").encode() + b"\0"
    new = b"$ORIGIN/../lib\0"
    data = binary.read_bytes()
    if old in data and len(new) <= len(old):
        binary.write_bytes(data.replace(old, new.ljust(len(old), b"\0")))
    blocked = [str(f) for f in dest.parents if not f.stat().st_mode & stat.S_IXOTH]
    if blocked:
        raise ValueError(f"{dest} must be reachable by every user; {blocked[0]} is not")
    subprocess.run(["chmod", "-R", "a+rX", str(dest)], check=True)
    return binary


def tool_path(bin_dir: Path, python: Path) -> str:
    """A PATH of the basic tools and ``python`` as python3 and python3.10 only."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    for name in ("python3", "python3.10"):
        if not (bin_dir / name).exists():
            (bin_dir / name).symlink_to(python)
    bin_dir.chmod(0o755)
    return str(bin_dir)


def pip_cache() -> str:
    """pip's wheel cache, kept between runs (the registry's torch is several GB)."""
    return os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))


def setup_env(root: Path, path: str) -> dict[str, str]:
    """setup.sh's environment: AUTOGRADER_ROOT, the tools' PATH, pip with the registry alone."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "LANG") or k.startswith("PIP_")
    }
    env = _lock().registry_env(base)
    env.update(PATH=path, AUTOGRADER_ROOT=str(root), HOME=str(root), PIP_CACHE_DIR=pip_cache())
    return env


def run_setup(root: Path, path: str, log: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run the archive's setup.sh under ``root`` as Gradescope does (as root), its output in ``log``."""
    with log.open("w") as out:
        return subprocess.run(
            ["bash", str(root / "source" / "setup.sh")],
            env=setup_env(root, path),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
