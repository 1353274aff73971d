"""A student user of its own for the grader tests: created for the test session, removed after.

The grader kills every process of its student user between notebooks, so tests must not share
one with anything else on the machine (other test sessions use 'nobody'). As root the fixture
creates a system user with a random name and deletes it (with anything it left running); without
root, or where ``useradd`` is missing, notebooks run as the grader's own user or as 'nobody'.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from a5kit.grader.memory import Scope


@pytest.fixture(scope="session")
def student_user() -> Iterator[str]:
    """The name of a fresh unprivileged user (root), or '' (not root)."""
    if os.geteuid() != 0:
        yield ""
        return
    useradd, userdel = shutil.which("useradd"), shutil.which("userdel")
    if not (useradd and userdel):
        yield "nobody"
        return
    name = f"a5t{secrets.token_hex(4)}"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True, capture_output=True
    )
    try:
        yield name
    finally:
        Scope(pwd.getpwnam(name).pw_uid).kill_all()
        subprocess.run([userdel, name], check=False, capture_output=True)
