"""Start the student's kernel: drop to the unprivileged user, set limits, then exec ipykernel.

    python -m a5kit.grading.launcher --user NAME --connection FILE --workdir DIR [--memory-mb N] -- ARGV...

Run as root by the grader. Before ``exec`` it reads the kernel's connection file (root-only),
switches to ``--user`` (no supplementary groups), makes itself the first victim of the
out-of-memory killer, caps its address space and file sizes, and hands ipykernel a copy of the
connection file it can read. Without root (a laptop) it only sets the limits. When the grader's
interpreter is not reachable by the student's user (e.g. it lives under /root), the kernel runs on
the system interpreter of the same Python version with the grader's site-packages on its path.
"""

from __future__ import annotations

import argparse
import os
import pwd
import resource
import shutil
import sys
import sysconfig
from pathlib import Path

FILE_SIZE_MB = 512  # one file the kernel writes can be at most this large


def _set_limits(memory_mb: int) -> None:
    if memory_mb > 0:
        cap = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    size = FILE_SIZE_MB * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    try:
        Path("/proc/self/oom_score_adj").write_text("1000")
    except OSError:
        pass


def _reachable(path: str) -> bool:
    return os.access(path, os.X_OK) and os.access(sysconfig.get_paths()["stdlib"], os.R_OK | os.X_OK)


def student_python(env: dict[str, str]) -> str:
    """An interpreter the current (already switched) user can run; adjusts ``env`` when it is not ours."""
    if _reachable(sys.executable):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}", shutil.which(version) or ""):
        if candidate and os.access(candidate, os.X_OK):
            paths = [p for p in sys.path if p and not p.startswith(sys.base_prefix)]  # venv, editable installs
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
            env["A5KIT_KERNEL_NOTE"] = f"kernel runs on {candidate} (the grader's interpreter is not readable by the student user)"
            return candidate
    raise SystemExit(f"no Python interpreter that the student user can run: {sys.executable} is not reachable")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m a5kit.grading.launcher")
    parser.add_argument("--user", default="")
    parser.add_argument("--connection", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    connection = args.connection.read_bytes()
    env = dict(os.environ)
    if args.user and os.geteuid() == 0:
        record = pwd.getpwnam(args.user)
        os.setgroups([])
        os.setgid(record.pw_gid)
        os.setuid(record.pw_uid)
        env.update(HOME=str(args.workdir), USER=args.user, LOGNAME=args.user)
    _set_limits(args.memory_mb)
    os.chdir(args.workdir)
    own_connection = args.workdir / "kernel-connection.json"
    own_connection.write_bytes(connection)
    own_connection.chmod(0o600)
    python = student_python(env)
    kernel = [a for a in args.kernel if a != "--"]
    command = [python, "-m", "ipykernel_launcher", "-f", str(own_connection), *kernel]
    os.execve(python, command, env)


if __name__ == "__main__":
    main()
