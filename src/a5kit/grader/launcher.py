"""Start the student's kernel: set limits, drop to the unprivileged user, then exec ipykernel.

    python -I -m a5kit.grader.launcher --user NAME --connection FILE --workdir DIR [--address-space-mb N] -- ARGV...

Run as root by the grader, with ``-I`` (no ``PYTHON*`` variables, no user site, no current folder on
``sys.path``) from a root-owned working directory, so nothing the student can write is imported
while it is root. Before ``exec`` it reads the kernel's connection file (root-only), makes itself
the first victim of the out-of-memory killer (this needs root, so it comes first), caps its file
sizes (and its address space, if asked: the grader does not by default), switches to ``--user`` (no
supplementary groups, for good), and only then enters ``--workdir`` and hands ipykernel a private
copy of the connection file. A limit the platform rejects (macOS and RLIMIT_AS) is skipped with a
line on stderr, not a dead kernel. Without root (a laptop) it only sets the limits. When the
grader's interpreter is not reachable by the student's user (e.g. it lives under /root), the kernel
runs on the system interpreter of the same Python version with the grader's site-packages on its
path.
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

FILE_SIZE_MB = 256  # one file the kernel writes can be at most this large
OOM_FIRST = "1000"  # /proc/self/oom_score_adj: the kernel is the out-of-memory killer's first choice


def _warn(message: str) -> None:
    """One line on stderr, which the grader keeps and shows when the kernel does not start."""
    print(f"a5kit launcher: {message}", file=sys.stderr, flush=True)


def _oom_first() -> None:
    """Make this process (and what it execs) the OOM killer's first victim; needs root to lower it later."""
    if not Path("/proc/self/oom_score_adj").exists():
        _warn("no /proc/self/oom_score_adj on this platform: the kernel is not preferred by the OOM killer")
        return
    try:
        Path("/proc/self/oom_score_adj").write_text(OOM_FIRST)
    except OSError as err:
        _warn(f"could not set oom_score_adj ({err.strerror}): the kernel is not preferred by the OOM killer")


def set_limits(address_space_mb: int, file_mb: int = FILE_SIZE_MB) -> list[str]:
    """Cap address space (0 = leave it) and file size; returns what the platform refused (each also said on stderr)."""
    wanted = []
    if address_space_mb > 0:
        wanted.append(("RLIMIT_AS", address_space_mb))
    if file_mb > 0:
        wanted.append(("RLIMIT_FSIZE", file_mb))
    skipped = []
    for name, mb in wanted:
        limit = getattr(resource, name, None)
        try:
            if limit is None:
                raise ValueError("not defined on this platform")
            resource.setrlimit(limit, (mb * 2**20, mb * 2**20))
        except (ValueError, OSError) as err:
            skipped.append(name)
            _warn(f"{name} of {mb} MB skipped: this platform refuses it ({err}); the grader's watchdog still applies")
    return skipped


def drop_privileges(user: str) -> dict[str, str]:
    """Become ``user`` for good (groups, gid, uid); returns the identity variables for its environment."""
    record = pwd.getpwnam(user)
    os.setgroups([])
    os.setgid(record.pw_gid)
    os.setuid(record.pw_uid)
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise SystemExit("a5kit launcher: could still become root after dropping privileges; refusing to start")
    return {"USER": user, "LOGNAME": user}


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
            return candidate
    raise SystemExit(
        f"a5kit launcher: no Python interpreter that the student user can run: {sys.executable} is not reachable"
    )


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, limit and drop, then exec the kernel (never returns)."""
    parser = argparse.ArgumentParser(prog="python -I -m a5kit.grader.launcher")
    parser.add_argument("--user", default="")
    parser.add_argument("--connection", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--address-space-mb", type=int, default=0, help="RLIMIT_AS in MB (0: none)")
    parser.add_argument("--file-mb", type=int, default=FILE_SIZE_MB)
    parser.add_argument("kernel", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    connection = args.connection.read_bytes()
    env = dict(os.environ)
    if os.geteuid() == 0:
        _oom_first()  # before the switch: afterwards the student may not raise its own score
    set_limits(args.address_space_mb, args.file_mb)
    if args.user and os.geteuid() == 0:
        env.update(drop_privileges(args.user))
    os.chdir(args.workdir)  # only now: the student's folder, entered as the student
    own_connection = args.workdir / "kernel-connection.json"
    fd = os.open(own_connection, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(connection)
    python = student_python(env)
    kernel = [a for a in args.kernel if a != "--"]
    command = [python, "-s", "-m", "ipykernel_launcher", "-f", str(own_connection), *kernel]
    os.execve(python, command, env)


if __name__ == "__main__":
    main()
