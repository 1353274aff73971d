"""`make bench` is a command, not a timed test: here it only has to complete and print its figures."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def test_quick_bench_completes_and_prints_every_figure(tiny_cache, shared_tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "a5kit.bench",
            "--quick",
            "--cache",
            str(tiny_cache),
            "--workdir",
            str(shared_tmp / "bench"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for figure in (
        "peak memory of the whole tree",
        "CPU time for the full submission",
        "batch throughput, 2 workers vs 1",
        "release + autograder build",
        "autograder archive",
        "full marks under 1 core / 768 MB",
        "1 worker:",
        "2 workers:",
    ):
        assert figure in out, figure
    assert "768 MB" in out and ("cgroup" in out or "NOT ENFORCED" in out)
