import subprocess
import sys


def test_demo_runs_offline_and_says_it_is_tiny(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "A5KIT_DATA_DIR": str(tmp_path / "dl")}
    result = subprocess.run(
        [sys.executable, "-m", "a5kit", "demo", "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "TINY" in out
    assert "attentions (12, 12, 10, 10)" in out
    assert "(200, 5313)" in out
    assert "identical to a fresh tiny run: True" in out
    assert "CacheMiss" in out
    assert "TINY DEMO CACHE" in out.splitlines()[-1]
