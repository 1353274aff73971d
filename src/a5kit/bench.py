"""``make bench``: what grading costs, measured against Gradescope's default container.

    python -m a5kit.bench [--cache data/cache] [--batch 20] [--quick] [--json FILE]

Prints, for the full solution submission graded through ``run_autograder``: wall time, CPU time
and peak resident memory of the whole process tree (grader + kernels), per notebook and in total,
once unconstrained and once on one core under a 768 MB memory cgroup (Linux cgroup v1 or v2, which
the kernel enforces; without root it says it could not confine the run). Then the batch
throughput of ``make grade`` with 1 and 2 workers, the release + autograder build time and the
archive size, each against its target. Figures, not assertions: CI runs ``--quick`` as a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import autograder, config, console, release
from .console import say
from .grader import batch
from .grader import settings as grader_settings
from .grader.memory import tree_rss_mb

LIMIT_MB = 768
TARGETS = {
    "peak_mb": (LIMIT_MB, "MB", "peak memory of the whole tree under the limit"),
    "cpu_s": (120.0, "s", "CPU time for the full submission on one core"),
    "speedup": (1.7, "x", "batch throughput, 2 workers vs 1"),
    "build_s": (60.0, "s", "release + autograder build"),
    "archive_mb": (50.0, "MB", "autograder archive"),
}


@dataclass
class Run:
    """One graded submission: wall and CPU seconds, peak tree RSS (MB), score and what limited it."""

    label: str
    wall_s: float
    cpu_s: float
    peak_mb: float
    score: float = 0.0
    max_score: float = 0.0
    lost: list[str] = field(default_factory=list)
    cgroup_peak_mb: float | None = None


# -- confinement ------------------------------------------------------------------------------


@contextlib.contextmanager
def memory_cgroup(limit_mb: int) -> Iterator[tuple[Path | None, str]]:
    """A memory cgroup with ``limit_mb`` (no swap); yields (its cgroup.procs file or None, how it is enforced)."""
    name = f"a5kit-bench-{os.getpid()}"
    candidates = [
        (
            "cgroup v1 memory controller",
            Path("/sys/fs/cgroup/memory") / name,
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
        ),
        ("cgroup v2 memory.max", Path("/sys/fs/cgroup") / name, "memory.max", "memory.swap.max"),
    ]
    for how, folder, limit_file, swap_file in candidates:
        try:
            folder.mkdir()
        except OSError:
            continue
        try:
            (folder / limit_file).write_text(str(limit_mb * 2**20))
            with contextlib.suppress(OSError):
                (folder / swap_file).write_text(str(limit_mb * 2**20) if "memsw" in swap_file else "0")
            yield folder / "cgroup.procs", f"{how} ({folder}), {limit_mb} MB, no swap"
            return
        except OSError:
            continue
        finally:
            with contextlib.suppress(OSError):
                folder.rmdir()
    yield None, "NOT ENFORCED: no writable memory cgroup (needs root on Linux)"


def _cgroup_peak_mb(procs: Path | None) -> float | None:
    if procs is None:
        return None
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        path = procs.parent / name
        if path.exists():
            with contextlib.suppress(OSError, ValueError):
                return int(path.read_text().split()[0]) / 2**20
    return None


def can_pin_one_core() -> bool:
    """Whether this platform can pin a process to one core (Linux's sched_setaffinity; not macOS)."""
    return hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")


def core_pinning() -> str:
    """How the 'one core' runs are confined here, in words."""
    if can_pin_one_core():
        return "pinned to one core (sched_setaffinity)"
    return f"NOT ENFORCED: {platform.system()} cannot pin a process to one core (no sched_setaffinity); the runs use every core"


# -- measuring --------------------------------------------------------------------------------


def _measure(
    cmd: list[str], env: dict[str, str], one_core: bool = False, procs: Path | None = None
) -> tuple[float, float, float]:
    """Run ``cmd``; (wall s, CPU s of it and all its descendants, peak RSS of its tree in MB)."""

    def confine() -> None:
        if one_core and can_pin_one_core():
            with contextlib.suppress(OSError):  # a container may forbid it: then the run is unpinned, as reported
                os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        if procs is not None:
            procs.write_text(str(os.getpid()))

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=confine)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, tree_rss_mb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    done.set()
    sampler.join()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak


def _student_user() -> str:
    """The user run_autograder runs notebooks as here: A5KIT_STUDENT_USER if set, else nobody."""
    user = config.student_user()
    return "nobody" if user is None else user


def grade_with_run_autograder(
    staged: Path, notebooks: list[Path], workdir: Path, label: str, one_core: bool = False, procs: Path | None = None
) -> Run:
    """Lay out an AUTOGRADER_ROOT like Gradescope's and time ``run_autograder`` on ``notebooks``."""
    root = workdir / label.replace(" ", "_")
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(staged, root / "source")
    (root / "submission").mkdir()
    for path in notebooks:
        shutil.copyfile(path, root / "submission" / path.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
    env.update(AUTOGRADER_ROOT=str(root), A5KIT_GRADER_PYTHON=sys.executable, A5KIT_STUDENT_USER=_student_user())
    wall, cpu, peak = _measure([str(root / "source" / "run_autograder")], env, one_core, procs)
    doc = json.loads((root / "results" / "results.json").read_text())
    questions = grader_settings.load(staged / "grader.json").questions
    asked = {q for path in notebooks for q in questions.get(path.stem, [])}
    mine = [t for t in doc["tests"][1:] if t["name"].split(":")[0] in asked]
    lost = sorted({t["name"].split(":")[0] for t in mine if t["score"] < t["max_score"]})
    most = sum(t["max_score"] for t in mine)
    return Run(label, round(wall, 2), round(cpu, 2), round(peak, 1), sum(t["score"] for t in mine), most, lost, None)


def grading_runs(
    staged: Path, solutions: list[Path], workdir: Path, one_core: bool, procs: Path | None, tag: str
) -> list[Run]:
    """One run per notebook (its own figures), then the full submission."""
    runs = []
    for path in solutions:
        runs.append(grade_with_run_autograder(staged, [path], workdir, f"{tag} {path.stem}", one_core, procs))
    if procs is not None:  # the cgroup's peak from here on is the full submission's
        with contextlib.suppress(OSError):
            (procs.parent / "memory.max_usage_in_bytes").write_text("0")
    full = grade_with_run_autograder(staged, solutions, workdir, f"{tag} full submission", one_core, procs)
    full.cgroup_peak_mb = _cgroup_peak_mb(procs)
    runs.append(full)
    return runs


def batch_throughput(
    staged: Path, root: Path, release_dir: Path, workdir: Path, count: int, only: set[str] | None = None
) -> dict[str, float]:
    """Seconds to grade ``count`` submissions (solution, untouched release, partly wrong, in turn) with 1 and 2 workers."""
    from . import demo

    kinds = demo.example_submissions(root, release_dir, workdir / "kinds")
    if only is not None:
        for folder in kinds.values():
            for path in folder.glob("*.ipynb"):
                if path.stem not in only:
                    path.unlink()
    folder = workdir / "batch"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    names = list(kinds)
    for i in range(count):
        shutil.copytree(kinds[names[i % len(names)]], folder / f"student{i:02d}_{names[i % len(names)]}")
    figures = {}
    for workers in (1, 2):
        _, _, wall = batch.grade_folder(folder, staged, workdir / f"grades-{workers}", workers)
        figures[f"wall_{workers}_worker_s"] = round(wall, 1)
    figures["submissions"] = count
    figures["speedup"] = round(figures["wall_1_worker_s"] / figures["wall_2_worker_s"], 2)
    return figures


# -- report -----------------------------------------------------------------------------------


def verdict(key: str, value: float | None) -> str:
    target, unit, _ = TARGETS[key]
    if value is None:
        return "not measured"
    higher_is_better = key == "speedup"
    ok = value >= target if higher_is_better else value <= target
    if ok:
        return f"OK (target {'>=' if higher_is_better else '<='} {target:g} {unit})"
    gap = target - value if higher_is_better else value - target
    return f"MISSED by {gap:.3g} {unit} (target {'>=' if higher_is_better else '<='} {target:g} {unit})"


def _runs_table(runs: list[Run]) -> str:
    lines = [f"  {'run':<36}{'wall s':>8}{'CPU s':>8}{'peak MB':>9}  score"]
    for r in runs:
        lost = f"  lost: {', '.join(r.lost)}" if r.lost else ""
        lines.append(
            f"  {r.label:<36}{r.wall_s:>8.1f}{r.cpu_s:>8.1f}{r.peak_mb:>9.0f}  {r.score:g}/{r.max_score:g}{lost}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache to ship (default: ROOT/data/cache, else a tiny one recorded now)",
    )
    parser.add_argument("--batch", type=int, default=20, help="submissions for the throughput figure")
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: first notebook only, batch of 4, no per-notebook runs"
    )
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    console.add_switch(parser)
    args = parser.parse_args(argv)
    console.configure(args)
    root = args.root.resolve()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="a5kit-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)  # notebooks run as an unprivileged user when the bench runs as root
    commit = (
        subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    say.info(
        f"a5kit bench -- commit {commit}, {platform.node()}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.machine()}"
    )

    cache = args.cache or root / "data" / "cache"
    if not (cache / "manifest.json").exists():
        cache = workdir / "tiny-cache"
        t0 = time.perf_counter()
        env = {**os.environ, "A5KIT_MODE": "record", "A5KIT_TINY": "1", "HF_HUB_OFFLINE": "1"}
        subprocess.run(
            [sys.executable, "-m", "a5kit", "cache", "--out", str(cache), "--tiny"],
            env=env,
            check=True,
            capture_output=True,
        )
        say.info(
            f"cache: none at {root / 'data' / 'cache'}; recorded a TINY demo cache in {time.perf_counter() - t0:.0f} s (not counted below)"
        )

    t0 = time.perf_counter()
    release_dir = workdir / "release"
    release.build(root, release_dir)
    archive = autograder.build(root, cache, workdir / "dist")
    build_s = time.perf_counter() - t0
    archive_mb = archive.stat().st_size / 2**20
    with zipfile.ZipFile(archive) as zf:
        cache_mb = sum(i.file_size for i in zf.infolist() if i.filename.startswith("cache/")) / 2**20
    staged = workdir / "dist" / "autograder"
    figures: dict[str, object] = {
        "commit": commit,
        "cores": os.cpu_count(),
        "build_s": round(build_s, 1),
        "archive_mb": round(archive_mb, 2),
        "cache_mb": round(cache_mb, 2),
    }

    solutions = sorted((root / "solutions").glob("*.ipynb"))
    if args.quick:
        solutions = solutions[:1]
    per_notebook = not args.quick
    say.info("\nfull solution graded by run_autograder (the whole process tree: grader + notebook kernels)")
    normal = (
        grading_runs(staged, solutions, workdir, False, None, "unconstrained")
        if per_notebook
        else [grade_with_run_autograder(staged, solutions, workdir, "unconstrained full submission")]
    )
    say.info(_runs_table(normal))
    with memory_cgroup(LIMIT_MB) as (procs, how):
        say.info(f"\none core, {LIMIT_MB} MB: {how}; {core_pinning()}")
        confined = (
            grading_runs(staged, solutions, workdir, True, procs, "1 core 768 MB")
            if per_notebook
            else [grade_with_run_autograder(staged, solutions, workdir, "1 core 768 MB full submission", True, procs)]
        )
        confined[-1].cgroup_peak_mb = _cgroup_peak_mb(procs)
    say.info(_runs_table(confined))
    full = confined[-1]
    if full.cgroup_peak_mb is not None:
        say.info(f"  cgroup's own peak (includes page cache): {full.cgroup_peak_mb:.0f} MB")
    figures.update(
        normal=[asdict(r) for r in normal],
        confined=[asdict(r) for r in confined],
        confinement=f"{how}; {core_pinning()}",
    )

    count = 4 if args.quick else args.batch
    say.info(f"\nbatch grading (make grade) of {count} submissions: solution, untouched release, partly wrong in turn")
    throughput = batch_throughput(
        staged, root, release_dir, workdir, count, {p.stem for p in solutions} if args.quick else None
    )
    say.info(
        f"  1 worker: {throughput['wall_1_worker_s']:.1f} s ({count / throughput['wall_1_worker_s'] * 60:.1f}/min); "
        f"2 workers: {throughput['wall_2_worker_s']:.1f} s ({count / throughput['wall_2_worker_s'] * 60:.1f}/min)"
    )
    figures["batch"] = throughput

    say.info(f"\nrelease + autograder build: {build_s:.1f} s; archive {archive_mb:.1f} MB (cache {cache_mb:.1f} MB)")
    say.info("\ntargets")
    checks = {
        "peak_mb": full.peak_mb if not full.lost else None,
        "cpu_s": full.cpu_s,
        "speedup": throughput["speedup"],
        "build_s": build_s,
        "archive_mb": archive_mb,
    }
    for key, value in checks.items():
        shown = (
            "lost questions under the limit: " + ", ".join(full.lost)
            if key == "peak_mb" and full.lost
            else f"{value:.2f}"
        )
        say.info(f"  {TARGETS[key][2]:<48} {shown:>10}  {verdict(key, value)}")
    full_marks = full.score == full.max_score
    say.info(
        f"  {'full marks under 1 core / 768 MB':<48} {full_marks!s:>10}  {'OK' if full_marks else 'MISSED: lost ' + ', '.join(full.lost)}"
    )
    if args.quick:
        say.info("\n(--quick: first notebook only, batches of 4; run `make bench` for the real figures)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
