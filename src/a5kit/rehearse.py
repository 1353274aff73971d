"""``make rehearse``: the live path at full size, offline, with random weights.

    python -m a5kit.rehearse [--workdir build/rehearse] [--steps models,nb01,...] [--status]

No hub access is needed: the real architectures are built at full size with random weights
(GPT-2 small's config; Enformer dim 1536, depth 11, 8 heads, human 5313 / mouse 1643 outputs,
896 bins), saved with ``save_pretrained`` and loaded through the same ``from_pretrained`` path as
the hub (``A5KIT_GPT2_SOURCE`` / ``A5KIT_ENFORMER_SOURCE`` name the folders). hg38 is not
reachable either, so the windows are the kit's synthetic sequences served through a local
download mirror in UCSC's format: every number this produces is plumbing and cost, NOT biology.

Steps, in order (each is skipped when ``state.json`` says it finished; an interrupted step
resumes from the live memo, so no prediction is computed twice):

  models     build and save both models, then load them back through from_pretrained
  mirror     the download mirror: targets_human.txt and the synthetic windows
  nb01..nb03 execute solution notebooks 1-3 in live mode (hidden tests on): wall time, peak memory
  cache      ``python -m a5kit cache`` into WORKDIR/cache (a full-size cache, from the memo)
  grade      build the autograder on it and grade the full solution on one core within 768 MB
  answers    the grader sheet of the full-size cache (``make answers``)
  nb04       notebook 4 (fine-tunes the full-size Enformer twice; the longest step on a CPU)
  answers_q5 the sheet again, with Q5's Pearson r from the executed notebook 4

Progress goes to WORKDIR/progress.log (one line per event, flushed), figures to
WORKDIR/results.json. Torch uses at most 2 threads (``A5KIT_REHEARSE_THREADS``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import config, console, nbmeta
from .cache import memo_entries
from .console import say

STEPS = ("models", "mirror", "nb01", "nb02", "nb03", "cache", "grade", "answers", "nb04", "answers_q5")
EXTRA_STEPS = ("grade_partial",)  # run on request only (--steps grade_partial)
OPTIONAL = ("answers", "answers_q5")  # a failure here is logged and the later steps still run
NOTEBOOKS = {"nb01": "01_self_attention", "nb02": "02_dna_cnn", "nb03": "03_enformer", "nb04": "04_finetune"}
ENFORMER_FULL_HPARAMS: dict[str, Any] = {
    "dim": 1536,
    "depth": 11,
    "heads": 8,
    "output_heads": {"human": 5313, "mouse": 1643},
    "target_length": 896,
    "use_tf_gamma": False,
}
NOTE = (
    "REHEARSAL CACHE: full-size GPT-2 and Enformer with RANDOM weights on SYNTHETIC sequence (no hub, no hg38): "
    "right shapes and sizes for measuring cost, the numbers are not biology"
)


class Rehearsal:
    """One rehearsal folder: its state, its progress log and its figures."""

    def __init__(self, root: Path, workdir: Path, threads: int = 2) -> None:
        self.root = root
        self.workdir = workdir
        self.threads = threads
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_path = workdir / "state.json"
        self.results_path = workdir / "results.json"
        self.log_path = workdir / "progress.log"

    # -- bookkeeping ------------------------------------------------------------------------
    def log(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC  {message}"
        with open(self.log_path, "a") as f:
            f.write(line + "\n")
        say.info(line)

    def _read(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text()) if path.exists() else {}

    def done(self, step: str) -> bool:
        return bool(self._read(self.state_path).get(step, {}).get("done"))

    def mark(self, step: str, **figures: Any) -> None:
        state = self._read(self.state_path)
        state[step] = {"done": True, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.state_path.write_text(json.dumps(state, indent=1) + "\n")
        results = self._read(self.results_path)
        results[step] = figures
        self.results_path.write_text(json.dumps(results, indent=1) + "\n")

    # -- paths and environment --------------------------------------------------------------
    @property
    def gpt2_dir(self) -> Path:
        return self.workdir / "models" / "gpt2-small-random"

    @property
    def enformer_dir(self) -> Path:
        return self.workdir / "models" / "enformer-full-random"

    @property
    def mirror(self) -> Path:
        return self.workdir / "mirror"

    @property
    def cache(self) -> Path:
        return self.__dict__.get("_cache_override") or self.workdir / "cache"

    def env(self, mode: str = "live") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("A5KIT_")}
        threads = str(self.threads)
        env.update(
            A5KIT_MODE=mode,
            A5KIT_GPT2_SOURCE=str(self.gpt2_dir),
            A5KIT_ENFORMER_SOURCE=str(self.enformer_dir),
            A5KIT_DATA_MIRROR=str(self.mirror),
            A5KIT_DATA_DIR=str(self.workdir / "downloads"),
            A5KIT_LIVE_MEMO=str(self.workdir / "memo"),
            A5KIT_CACHE=str(self.cache),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            MPLBACKEND="Agg",
            OMP_NUM_THREADS=threads,
            MKL_NUM_THREADS=threads,
            TORCH_NUM_THREADS=threads,
        )
        return env

    # -- steps ------------------------------------------------------------------------------
    def step_models(self) -> dict[str, Any]:
        figures = build_models(self.gpt2_dir, self.enformer_dir, log=self.log)
        # load back through the kit's own from_pretrained path, as the notebooks will
        code = (
            "import a5kit.models as m, json; g = m.load_gpt2()[0]; e = m.load_enformer(); "
            "print(json.dumps({'gpt2_params': sum(p.numel() for p in g.parameters()), "
            "'enformer_params': sum(p.numel() for p in e.parameters())}))"
        )
        out = subprocess.run([sys.executable, "-c", code], env=self.env(), capture_output=True, text=True, check=True)
        loaded = json.loads(out.stdout.strip().splitlines()[-1])
        self.log(f"models: loaded back through from_pretrained: {loaded}")
        return {**figures, **loaded}

    def step_mirror(self) -> dict[str, Any]:
        return build_mirror(self.mirror, self.root, log=self.log)

    def step_notebook(self, step: str) -> dict[str, Any]:
        from .bench import _measure

        name = NOTEBOOKS[step]
        out_dir = self.workdir / "notebooks"
        out_dir.mkdir(exist_ok=True)
        env = self.env()
        env["A5KIT_HIDDEN_TESTS"] = str(self.root / "autograder" / "tests")
        memo_before = memo_entries(self.workdir / "memo")
        cmd = [
            sys.executable,
            "-m",
            "a5kit.rehearse",
            "--execute",
            str(self.root / "solutions" / f"{name}.ipynb"),
            str(out_dir / f"{name}.ipynb"),
        ]
        self.log(f"{step}: executing {name} in live mode (full-size random models, {self.threads} threads)")
        wall, cpu, peak = _measure(cmd, env)
        summary = self._read(out_dir / f"{name}.json")
        figures = {
            "notebook": name,
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "peak_mb": round(peak),
            "threads": self.threads,
            "memo_entries_before": memo_before,
            "memo_entries_after": memo_entries(self.workdir / "memo"),
            **summary,
        }
        if summary.get("errors"):
            self.log(f"{step}: {name} raised errors: {summary['errors']}")
        self.log(
            f"{step}: {name} done in {wall:.0f} s wall, {cpu:.0f} s CPU, peak {peak:.0f} MB; score "
            f"{summary.get('score')}/{summary.get('max_score')}"
        )
        return figures

    def step_cache(self) -> dict[str, Any]:
        from .bench import _measure
        from .cache import Cache

        self.log(
            f"cache: recording every notebook input into {self.cache} (served from the memo where the notebooks computed it)"
        )
        wall, cpu, peak = _measure(
            [sys.executable, "-m", "a5kit", "cache", "--out", str(self.cache)], self.env("record")
        )
        cache = Cache(self.cache)
        if not cache.entries:
            raise RuntimeError(
                f"cache: nothing recorded in {self.cache}; run `python -m a5kit cache --out {self.cache}` with the rehearsal env to see why"
            )
        cache.manifest["rehearsal"] = NOTE
        cache._write_manifest()
        (self.cache / "REHEARSAL.txt").write_text(NOTE + "\n")
        size = sum(f.stat().st_size for f in self.cache.iterdir() if f.is_file())
        self.log(f"cache: {len(cache.entries)} entries, {size / 2**20:.2f} MB, in {wall:.0f} s")
        return {
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "peak_mb": round(peak),
            "entries": len(cache.entries),
            "size_mb": round(size / 2**20, 2),
        }

    def step_grade(self) -> dict[str, Any]:
        import zipfile

        from . import autograder
        from .bench import LIMIT_MB, grading_runs, memory_cgroup

        dist = self.workdir / ("dist" if self.cache == self.workdir / "cache" else "dist-partial")
        if dist.exists():
            shutil.rmtree(dist)
        archive = autograder.build(self.root, self.cache, dist)
        with zipfile.ZipFile(archive) as zf:
            cache_mb = sum(i.file_size for i in zf.infolist() if i.filename.startswith("cache/")) / 2**20
        archive_mb = archive.stat().st_size / 2**20
        self.log(
            f"grade: autograder built on the full-size cache: archive {archive_mb:.1f} MB (cache {cache_mb:.1f} MB uncompressed)"
        )
        work = self.workdir / ("grading" if self.cache == self.workdir / "cache" else "grading-partial")
        work.mkdir(exist_ok=True)
        work.chmod(0o755)
        solutions = sorted((self.root / "solutions").glob("*.ipynb"))
        with memory_cgroup(LIMIT_MB) as (procs, how):
            self.log(f"grade: one core, {LIMIT_MB} MB: {how}")
            runs = grading_runs(dist / "autograder", solutions, work, True, procs, "1 core 768 MB")
        for r in runs:
            self.log(
                f"grade: {r.label}: {r.wall_s} s wall, {r.cpu_s} s CPU, peak {r.peak_mb} MB, {r.score:g}/{r.max_score:g}"
                + (f", cgroup peak {r.cgroup_peak_mb:.0f} MB" if r.cgroup_peak_mb else "")
                + (f", lost {r.lost}" if r.lost else "")
            )
        from dataclasses import asdict

        return {
            "archive_mb": round(archive_mb, 2),
            "cache_mb": round(cache_mb, 2),
            "confinement": how,
            "runs": [asdict(r) for r in runs],
        }

    def step_grade_partial(self) -> dict[str, Any]:
        """Grade on a cache made of what the memo holds so far (not a default step: for a rehearsal that is
        still computing, to get the grading figures early). Missing entries are named in the results."""
        from .cache import Cache

        partial = self.workdir / "partial-cache"
        if partial.exists():
            shutil.rmtree(partial)
        copied = cache_from_memo(self.workdir / "memo", partial)
        code = (
            "import a5kit.data as d, a5kit.finetune_data as f, a5kit.inputs as i\n"
            "for w in set(i.SEQUENCE_WINDOWS) | set(f.WINDOWS): d.hg38_sequence(w)\n"
        )
        env = {**self.env("record"), "A5KIT_CACHE": str(partial)}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        cache = Cache(partial)
        cache.manifest["rehearsal"] = NOTE + "; PARTIAL: only what the rehearsal had computed when this was made"
        cache._write_manifest()
        q6 = sum(1 for e in cache.entries.values() if e["function"] == "enformer_predict" and "tracks" in e["params"])
        self.log(f"grade_partial: {len(cache.entries)} entries ({copied} from the memo) in {partial}")
        try:
            self.__dict__["_cache_override"] = partial
            figures = self.step_grade()
        finally:
            self.__dict__.pop("_cache_override", None)
        figures["entries"] = len(cache.entries)
        figures["missing_q6_predictions"] = 10 - q6
        return figures

    def step_answers_q5(self) -> dict[str, Any]:
        """The grader sheet again, now with Q5's Pearson r from the executed notebook 4."""
        return self.step_answers()

    def step_answers(self) -> dict[str, Any]:
        env = self.env("replay")
        out = subprocess.run(
            [sys.executable, "-m", "a5kit.answers", "--cache", str(self.cache)], env=env, capture_output=True, text=True
        )
        if out.returncode:
            raise RuntimeError(f"answers failed:\n{out.stderr[-3000:]}")
        self.log(f"answers: {out.stdout.strip().splitlines()[-1] if out.stdout.strip() else 'written'}")
        return {"sheet": str(self.cache / "ANSWERS.md")}

    def run(self, steps: list[str]) -> int:
        self.log(f"rehearsal in {self.workdir}: steps {', '.join(steps)}")
        failed: list[str] = []
        for step in steps:
            if self.done(step):
                self.log(f"{step}: already done (delete its entry in {self.state_path.name} to redo it)")
                continue
            start = time.monotonic()
            try:
                figures = self.step_notebook(step) if step in NOTEBOOKS else getattr(self, f"step_{step}")()
            except Exception as err:  # the log must say what stopped the rehearsal
                self.log(
                    f"{step}: FAILED after {time.monotonic() - start:.0f} s: {type(err).__name__}: {str(err)[:2000]}"
                )
                if step in OPTIONAL:
                    failed.append(step)
                    continue
                return 1
            self.mark(step, **figures)
            self.log(f"{step}: finished in {time.monotonic() - start:.0f} s")
        if failed:
            self.log(f"rehearsal: done except {', '.join(failed)} (run again to retry)")
            return 1
        self.log("rehearsal: all steps done")
        return 0


# -- building blocks (also used by the tests at small size) ---------------------------------------


def build_models(
    gpt2_dir: Path,
    enformer_dir: Path,
    gpt2_config: dict[str, Any] | None = None,
    enformer_hparams: dict[str, Any] | None = None,
    seed: int = 0,
    log=print,
) -> dict[str, Any]:
    """Save a randomly initialised GPT-2 (default: GPT-2 small's config) and Enformer (default: full size)
    with their ``save_pretrained``, in the folder layout ``from_pretrained`` reads. Existing folders are kept."""
    import torch

    figures: dict[str, Any] = {}
    if not (gpt2_dir / "config.json").exists():
        from transformers import GPT2Config, GPT2Model

        from .models import tiny_gpt2_tokenizer

        torch.manual_seed(seed)
        t0 = time.monotonic()
        model = GPT2Model(GPT2Config(**(gpt2_config or {})))
        tmp = gpt2_dir.with_name(gpt2_dir.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tiny_gpt2_tokenizer().save_pretrained(tmp)
        tmp.replace(gpt2_dir)
        log(
            f"models: GPT-2 ({sum(p.numel() for p in model.parameters()):,} parameters, random) saved to "
            f"{gpt2_dir} in {time.monotonic() - t0:.0f} s"
        )
        del model
    if not (enformer_dir / "config.json").exists():
        from enformer_pytorch import Enformer

        torch.manual_seed(seed)
        t0 = time.monotonic()
        model = Enformer.from_hparams(**(enformer_hparams or ENFORMER_FULL_HPARAMS))
        tmp = enformer_dir.with_name(enformer_dir.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        # pytorch_model.bin, like the hub's enformer-official-rough: safetensors refuses the shared
        # tensors of Enformer's _trunk (it aliases stem, conv_tower, transformer, final_pointwise)
        model.save_pretrained(tmp, safe_serialization=False)
        tmp.replace(enformer_dir)
        log(
            f"models: Enformer ({sum(p.numel() for p in model.parameters()):,} parameters, random) saved to "
            f"{enformer_dir} in {time.monotonic() - t0:.0f} s"
        )
        del model
    for name, folder in (("gpt2", gpt2_dir), ("enformer", enformer_dir)):
        figures[f"{name}_mb"] = round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)
    return figures


def build_mirror(mirror: Path, root: Path, log=print) -> dict[str, Any]:
    """A download mirror: targets_human.txt (from A5KIT_DATA_MIRROR or ../shared/data) and the synthetic
    windows of every interval the notebooks read, as UCSC ``getData/sequence`` answers."""
    from . import data, finetune_data, inputs

    mirror.mkdir(parents=True, exist_ok=True)
    if not (mirror / "targets_human.txt").exists():
        candidates = [p for p in (config.data_mirror(), root.parent / "shared" / "data") if p]
        source = next((c / "targets_human.txt" for c in candidates if (c / "targets_human.txt").exists()), None)
        if source is None:
            raise FileNotFoundError(
                "targets_human.txt: set A5KIT_DATA_MIRROR to a folder holding it (notebook 3 needs the track table)"
            )
        shutil.copyfile(source, mirror / "targets_human.txt")
    intervals = sorted(set(data.NOTEBOOK_WINDOWS) | set(inputs.SEQUENCE_WINDOWS) | set(finetune_data.WINDOWS), key=str)
    for interval in intervals:
        path = mirror / f"hg38_{interval.chrom}_{interval.start}_{interval.end}.json"
        if not path.exists():
            seq = data.synthetic_sequence(interval)
            path.write_text(
                json.dumps(
                    {
                        "genome": "hg38",
                        "chrom": interval.chrom,
                        "start": interval.start,
                        "end": interval.end,
                        "dna": str(seq),
                        "note": "a5kit rehearsal: SYNTHETIC sequence, not hg38",
                    }
                )
            )
    log(f"mirror: {len(intervals)} synthetic windows and targets_human.txt in {mirror}")
    return {"windows": len(intervals)}


def cache_from_memo(memo_root: Path, out: Path) -> int:
    """Copy every entry of the live memo (all model sources) into the cache folder ``out``; returns how many."""
    from .cache import Cache, ModelInfo

    target = Cache(out)
    count = 0
    for manifest in sorted(memo_root.glob("*/manifest.json")):
        memo = Cache(manifest.parent)
        for entry in memo.entries.values():
            arrays = memo.load(entry)
            target.store(
                entry["function"],
                entry["input"],
                entry["input_sha256"],
                entry["params"],
                arrays,
                ModelInfo(entry["model_id"], entry["model_version"], bool(entry.get("tiny"))),
            )
            count += 1
    return count


def execute_notebook(source: Path, out: Path, timeout: int = 6 * 3600) -> dict[str, Any]:
    """Run one notebook with nbclient (errors recorded, not fatal); save it and a summary next to it."""
    import nbclient
    import nbformat

    nb = nbformat.read(source, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(source.parent)}},
    )
    cell_seconds: list[tuple[str, float]] = []
    start = time.monotonic()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            t0 = time.monotonic()
            client.execute_cell(cell, index)
            if cell.cell_type == "code":
                cell_seconds.append(
                    (nbmeta.grade_id(cell) or cell.get("id") or str(index), round(time.monotonic() - t0, 1))
                )
    wall = time.monotonic() - start
    nbformat.write(nb, out)
    errors = [
        f"{out_.ename}: {str(out_.evalue)[:300]}"
        for cell in nb.cells
        for out_ in cell.get("outputs", [])
        if out_.output_type == "error"
    ]
    score = max_score = 0.0
    for cell in nb.cells:
        meta = nbmeta.meta(cell)
        if meta.autograded:
            max_score += meta.points or 0.0
            for o in cell.get("outputs", []):
                if o.output_type == "execute_result":
                    with contextlib.suppress(KeyError, ValueError):
                        score += float(o.data["text/plain"])
    summary = {
        "kernel_wall_s": round(wall, 1),
        "errors": errors,
        "score": score,
        "max_score": max_score,
        "slowest_cells": sorted(cell_seconds, key=lambda c: -c[1])[:6],
    }
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def status(workdir: Path) -> str:
    state = json.loads((workdir / "state.json").read_text()) if (workdir / "state.json").exists() else {}
    return "\n".join(
        f"  {s:<8} {'done ' + state[s]['finished'] if state.get(s, {}).get('done') else 'to do'}" for s in STEPS
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m a5kit.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--workdir", type=Path, default=Path("build/rehearse"))
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, in this order: {','.join(STEPS)}")
    parser.add_argument("--threads", type=int, default=config.rehearse_threads())
    parser.add_argument("--status", action="store_true", help="show which steps are done and stop")
    parser.add_argument("--execute", nargs=2, type=Path, metavar=("NOTEBOOK", "OUT"), help=argparse.SUPPRESS)
    console.add_switch(parser)
    args = parser.parse_args(argv)
    console.configure(args)
    if args.execute:
        summary = execute_notebook(*args.execute)
        print(json.dumps(summary))  # the parent process reads this line: data, not a report
        return 0
    workdir = args.workdir.resolve()
    if args.status:
        say.info(f"rehearsal {workdir}:\n{status(workdir)}")
        return 0
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS + EXTRA_STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; known: {', '.join(STEPS)}")
    import torch

    torch.set_num_threads(min(args.threads, 2))
    return Rehearsal(args.root.resolve(), workdir, min(args.threads, 2)).run(steps)


if __name__ == "__main__":
    sys.exit(main())
