"""`python -m a5kit doctor`: mode, device, versions, weights, cache and expected times, in every mode."""

from __future__ import annotations

import subprocess
import sys

import pytest

from a5kit import doctor


def test_report_in_tiny_mode(tiny):
    text = doctor.report()
    assert "A5KIT_MODE=tiny" in text
    assert "device: cpu" in text
    assert "torch " in text and "transformers " in text and "enformer-pytorch " in text
    assert "weights: not needed" in text
    assert "cache " in text and "live memo" in text
    for name in doctor.EXPECTED_MINUTES:
        assert name in text


def test_live_mode_reports_missing_weights_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("A5KIT_ENFORMER_SOURCE", str(tmp_path / "no-such-folder" / "enformer"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    text = doctor.report()
    assert "MISSING" in text  # the local folder named by A5KIT_ENFORMER_SOURCE is not there
    assert "CANNOT be downloaded" in text  # gpt2: not cached, hub offline
    assert "CPU, measured" in text


def test_gpu_times_when_cuda(monkeypatch):
    import torch

    monkeypatch.setenv("A5KIT_MODE", "live")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Tesla T4")
    text = doctor.report()
    assert "device: cuda (Tesla T4)" in text
    assert "GPU, estimate" in text


def test_replay_without_cache_says_it_is_needed(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "replay")
    text = doctor.report()
    assert "replay mode NEEDS it" in text
    assert "not needed in replay mode" in text


def test_bad_mode_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("A5KIT_MODE", "bogus")
    assert "BROKEN" in doctor.report()


@pytest.mark.parametrize("argv", [["doctor"]])
def test_cli(argv):
    out = subprocess.run(
        [sys.executable, "-m", "a5kit", *argv],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "A5KIT_MODE": "tiny",
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent-home",
            "A5KIT_LIVE_MEMO": "0",
            "A5KIT_CACHE": "/nonexistent-cache",
        },
    )
    assert out.returncode == 0, out.stderr
    assert "a5kit doctor" in out.stdout and "expected time per notebook" in out.stdout
