"""``python -m a5kit doctor``: what a student or TA runs first when something is slow or fails.

It says which mode the kit is in, where the models would run (GPU or CPU, how many threads), the
versions that matter, whether the model weights and the cache are reachable, and how long each
notebook is expected to take on this device. It only looks: it downloads nothing, loads no
weights and never fails on a missing piece (it reports it).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from . import config

PACKAGES = (
    "a5kit",
    "torch",
    "transformers",
    "huggingface_hub",
    "enformer-pytorch",
    "numpy",
    "memelite",
    "pyjaspar",
    "nbformat",
)

# Expected minutes per notebook in live mode, full-size models, weights already downloaded.
# cpu: `make rehearse` on a 2-core x86_64 CPU at 2 torch threads (docs/performance.md): CPU seconds of
#      the notebook / 2, rounded up (notebook 3: 781 CPU s, 65 per 196,608 bp prediction). Notebook 4:
#      1,056 CPU s on the one thread it sets (40 frozen-trunk steps at 7 s, 40 whole-model steps at 19 s).
#      Scaled by thread count on other CPUs (an estimate), except notebooks that fix their threads.
# gpu: estimate for a Colab T4, assuming it sustains 4 TFLOP/s fp32 on Enformer (half its peak):
#      0.8 s per 196,608 bp prediction; what is left is imports, Tomtom's one-off compilation, plots.
# replay/tiny: the autograder's cost per notebook (make bench), any device.
EXPECTED_MINUTES: dict[str, dict[str, float]] = {
    "01_self_attention": {"cpu": 0.5, "gpu": 0.5, "replay": 0.1},
    "02_dna_cnn": {"cpu": 0.5, "gpu": 0.5, "replay": 0.15},
    "03_enformer": {"cpu": 7.0, "gpu": 1.5, "replay": 0.1},
    "04_finetune": {"cpu": 20.0, "gpu": 1.0, "replay": 0.25},
}
FIXED_THREADS = {"02_dna_cnn", "04_finetune"}  # they call torch.set_num_threads(1)
DOWNLOAD_MINUTES = {
    "01_self_attention": 0.5,
    "03_enformer": 1.5,
    "04_finetune": 1.5,
}  # first run: weights (~0.5 GB GPT-2, ~1 GB Enformer)
MEASURED_THREADS = 2


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def device_report() -> tuple[str, str, int]:
    """(device kind ``cuda``/``cpu``/``none``, a description, torch CPU threads)."""
    try:
        import torch
    except ImportError:
        return "none", "torch is not installed (replay mode, the autograder, does not need it)", 0
    threads = torch.get_num_threads()
    try:
        from .models import describe_device, device

        kind = device(tiny=False)
        return kind, describe_device(kind), threads
    except Exception as err:  # a bad A5KIT_DEVICE, a broken CUDA install: say so
        return "cpu", f"cpu ({err})", threads


def weights_report() -> list[str]:
    """Whether each model's weights can be loaded here, without loading them."""
    lines = []
    mode = config.mode()
    if mode == "replay":
        return ["weights: not needed in replay mode (served from the cache)"]
    if config.use_tiny_models():
        return ["weights: not needed (tiny random models are built locally)"]
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    for env, source in config.model_sources().items():
        path = Path(source)
        if path.is_dir() or (os.path.sep in source and source.count("/") != 1):
            ok = (path / "config.json").exists()
            lines.append(
                f"weights {source} ({env}): {'local folder, config.json present' if ok else 'MISSING: no config.json in that folder'}"
            )
            continue
        where = "not in the local Hugging Face cache"
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(source, "config.json"), str):
                where = "in the local Hugging Face cache"
        except Exception:
            pass
        if where.startswith("not") and offline:
            where += "; HF_HUB_OFFLINE is set, so they CANNOT be downloaded"
        elif where.startswith("not"):
            where += "; downloaded from the hub on first use" + (
                "" if _hub_reachable() else " -- but huggingface.co is NOT reachable from here"
            )
        lines.append(f"weights {source}: {where}")
    return lines


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def cache_report() -> list[str]:
    from .cache import Cache

    lines = []
    try:
        cache = Cache()
        exists = cache.manifest_path.exists()
        lines.append(
            cache.describe()
            if exists
            else f"cache {cache.path}: none ({'replay mode NEEDS it' if config.mode() == 'replay' else 'only replay mode needs it'})"
        )
    except Exception as err:
        lines.append(f"cache: unreadable ({type(err).__name__}: {err})")
    memo = config.live_memo_dir()
    if memo is None:
        lines.append("live memo: off (A5KIT_LIVE_MEMO=0)")
    else:
        from .cache import memo_entries

        lines.append(f"live memo {memo}: {memo_entries(memo)} results kept (clear: python -m a5kit memo --clear)")
    return lines


def expected_times(kind: str, threads: int) -> list[str]:
    mode = config.mode()
    lines = []
    for name, minutes in EXPECTED_MINUTES.items():
        if mode in ("replay",) or config.use_tiny_models():
            value, how = minutes["replay"], "tiny/replay: no real model runs"
        elif kind == "cuda":
            value, how = minutes["gpu"], "GPU, estimate (a T4 sustaining 4 TFLOP/s fp32 assumed)"
        elif name in FIXED_THREADS:
            value, how = minutes["cpu"], "CPU, measured; the notebook uses 1 thread"
        else:
            scale = MEASURED_THREADS / max(1, min(threads, 8)) if threads else 1.0
            value = minutes["cpu"] * max(scale, 0.5)
            how = (
                f"CPU, measured at {MEASURED_THREADS} threads, scaled to {threads}"
                if threads != MEASURED_THREADS
                else f"CPU, measured at {MEASURED_THREADS} threads"
            )
        first = (
            ""
            if mode == "replay" or config.use_tiny_models()
            else f" (+ about {DOWNLOAD_MINUTES.get(name, 0):g} min the first time, downloading weights)"
            if name in DOWNLOAD_MINUTES
            else ""
        )
        lines.append(f"  {name:<20} about {_fmt_minutes(value)}{first}  [{how}]")
    return lines


def _fmt_minutes(value: float) -> str:
    return f"{value * 60:.0f} s" if value < 1 else f"{value:.0f} min"


def report() -> str:
    lines = [
        f"a5kit doctor -- Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores"
    ]
    try:
        mode = config.mode()
        lines.append(f"mode: A5KIT_MODE={mode}; tiny models: {config.use_tiny_models()}")
    except config.ConfigError as err:
        return "\n".join([*lines, f"mode: BROKEN: {err}"])
    kind, described, threads = device_report()
    lines.append(
        f"device: {described}"
        + (
            " -- on Colab choose Runtime > Change runtime type > T4 GPU for notebooks 3 and 4"
            if kind == "cpu" and mode in ("live", "record")
            else ""
        )
    )
    lines.append("versions: " + "; ".join(f"{p} {_version(p)}" for p in PACKAGES))
    lines += weights_report()
    lines += cache_report()
    lines.append(f"downloads: {config.data_dir()}; mirror: {config.data_mirror()}")
    lines.append("expected time per notebook on this device (weights cached):")
    lines += expected_times(kind, threads)
    return "\n".join(lines)


def main() -> int:
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
