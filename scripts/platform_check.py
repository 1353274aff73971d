"""Stop `make` with one line on a platform the kit does not run on, before pip says it in a traceback.

`make demo` and `make test` need torch 2.13.0 (pinned in requirements/dev.lock) and the grader needs
POSIX users and limits (`pwd`, `resource`). torch 2.13.0 publishes wheels for Linux x86_64 and
aarch64 and for macOS 14+ on Apple silicon only; the tests are run on Linux x86_64.
"""

from __future__ import annotations

import platform
import sys

TORCH = "torch 2.13.0"


def problem(system: str, machine: str, mac_version: str = "") -> str | None:
    """Why the kit cannot run on this platform, or None when it can."""
    machine = machine.lower()
    if system == "Windows" or system.startswith(("CYGWIN", "MSYS", "MINGW")):
        return "native Windows is not supported (the grader needs POSIX users and limits): use WSL 2 (Ubuntu) or Colab"
    if system == "Darwin":
        if machine not in ("arm64", "aarch64"):
            return f"{TORCH} has no build for Intel Macs: use a Linux machine, WSL 2 or Colab"
        major = int((mac_version or "0").split(".")[0] or 0)
        if major < 14:
            return f"{TORCH} needs macOS 14 or newer on Apple silicon (this is macOS {mac_version or 'unknown'})"
        return None
    if system == "Linux":
        if machine in ("x86_64", "amd64", "aarch64", "arm64"):
            return None
        return f"{TORCH} has no build for Linux on {machine}: use x86_64 or aarch64"
    return f"{system} is not supported: use Linux (x86_64 or aarch64), macOS 14+ on Apple silicon, WSL 2 or Colab"


def main() -> int:
    reason = problem(platform.system(), platform.machine(), platform.mac_ver()[0])
    if reason:
        print(f"make: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
