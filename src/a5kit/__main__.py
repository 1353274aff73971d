"""Command line: ``python -m a5kit demo | cache | fetch NAME | info | doctor | memo [--clear]``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from ._env import environ


def cmd_cache(out: Path, tiny: bool) -> int:
    """Record every notebook input into the cache at ``out`` (real models, or tiny ones offline)."""
    from . import inputs
    from .cache import Cache

    with environ(A5KIT_MODE="record", A5KIT_CACHE=str(out), A5KIT_TINY="1" if tiny else "0"):
        inputs.record_all()
    print(Cache(out).describe())
    return 0


def cmd_demo(workdir: Path) -> int:
    """The offline demo: tiny models end to end, a recorded cache, its replay and a clear miss."""
    import numpy as np

    from . import data, inputs, models
    from .cache import Cache, CacheMiss

    warnings.simplefilter("ignore")  # the banner below says "tiny" once, plainly
    print("a5kit demo -- offline, TINY random models and synthetic sequence: shapes and plumbing, not biology\n")
    cache_dir = workdir / "demo-cache"
    t0 = time.perf_counter()
    cmd_cache(cache_dir, tiny=True)
    print(f"recorded a tiny cache in {time.perf_counter() - t0:.1f} s\n")

    with environ(A5KIT_MODE="replay", A5KIT_CACHE=str(cache_dir)):
        tokens, att = models.gpt2_attentions(inputs.ACTIVE_SENTENCE)
        print(f"replay gpt2_attentions: {len(tokens)} tokens {tokens}, attentions {att.shape}")
        seq = data.hg38_sequence(data.CHR11_WINDOW)
        pred = models.enformer_predict(seq)
        print(f"replay enformer_predict({data.CHR11_WINDOW}): {pred.shape} ({seq.source})")
        os.environ["A5KIT_MODE"] = "tiny"
        same = np.array_equal(models.gpt2_attentions(inputs.ACTIVE_SENTENCE)[1], att) and np.array_equal(
            models.enformer_predict(data.hg38_sequence(data.CHR11_WINDOW)), pred
        )
        print(f"replayed arrays identical to a fresh tiny run: {same}")
        os.environ["A5KIT_MODE"] = "replay"
        shifted = data.Interval(data.CHR11_WINDOW.chrom, data.CHR11_WINDOW.start + 1, data.CHR11_WINDOW.end + 1)
        try:
            data.hg38_sequence(shifted)
        except CacheMiss as miss:
            print(f"replay of an interval off by one -> CacheMiss: {str(miss)[:160]}...")
    try:
        tracks = data.enformer_tracks()
        assays = tracks["description"].str.split(":").str[0].value_counts().to_dict()
        print(f"\ntargets_human.txt: {len(tracks)} tracks, by assay {assays}")
    except data.DataUnavailable as err:
        print(f"\ntrack metadata skipped: {err}")
    print("\n" + Cache(cache_dir).describe())
    root = Path.cwd()
    if (root / "solutions").is_dir() and (root / "autograder" / "tests").is_dir():
        from . import demo

        print("\n-- instructor pipeline: release, autograder, grading example submissions --")
        demo.run(root, cache_dir, workdir)
    return 0 if same else 1


def cmd_fetch(name: str) -> int:
    from . import data

    try:
        print(data.fetch(name))
    except data.DataUnavailable as err:
        print(f"a5kit: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_memo(clear: bool) -> int:
    from . import config
    from .cache import clear_live_memo, memo_entries

    root = config.live_memo_dir()
    if root is None:
        print("live memo: off (A5KIT_LIVE_MEMO=0)")
        return 0
    if clear:
        print(f"live memo {root}: cleared {clear_live_memo()} results")
    else:
        print(f"live memo {root}: {memo_entries(root)} results (python -m a5kit memo --clear forgets them)")
    return 0


def cmd_info() -> int:
    from . import __version__, config
    from .cache import Cache

    print(f"a5kit {__version__}; A5KIT_MODE={config.mode()}; tiny models: {config.use_tiny_models()}")
    print(f"downloads: {config.data_dir()}; mirror: {config.data_mirror()}")
    print(Cache().describe())
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["written-pdf"]:  # its own options (argparse cannot pass them through a sub-command)
        from . import written_pdf

        return written_pdf.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m a5kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="offline demo in tiny mode")
    demo.add_argument("--workdir", type=Path, default=None)
    cache = sub.add_parser("cache", help="record every notebook input into a cache folder")
    cache.add_argument("--out", type=Path, required=True)
    cache.add_argument("--tiny", action="store_true", help="tiny random models, synthetic sequence (offline)")
    fetch = sub.add_parser("fetch", help="download a registry file")
    fetch.add_argument("name")
    sub.add_parser("info", help="show mode, folders and the cache")
    sub.add_parser("doctor", help="mode, device, versions, weights, cache and expected time per notebook")
    memo = sub.add_parser("memo", help="the live-mode memo of model results (--clear forgets it)")
    memo.add_argument("--clear", action="store_true")
    sub.add_parser(
        "written-pdf",
        add_help=False,
        help="a PDF of your written answers, one page per question (--help for its options)",
    )
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from . import doctor

        return doctor.main()
    if args.command == "memo":
        return cmd_memo(args.clear)
    if args.command == "demo":
        if args.workdir is not None:
            args.workdir.mkdir(parents=True, exist_ok=True)
            return cmd_demo(args.workdir)
        with tempfile.TemporaryDirectory() as tmp:
            return cmd_demo(Path(tmp))
    if args.command == "cache":
        return cmd_cache(args.out, args.tiny)
    if args.command == "fetch":
        return cmd_fetch(args.name)
    return cmd_info()


if __name__ == "__main__":
    sys.exit(main())
